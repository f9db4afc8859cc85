"""The baseline worker: a bare RQ worker of the class pagesite's worker uses,
running no-op jobs, so the publish benchmark can tell pagesite's cost from RQ's."""

import os
import sys

import redis
from rq import SimpleWorker, Worker

CLASSES = {"simple": SimpleWorker, "fork": Worker}


def noop():
    """The baseline job: nothing at all."""
    return None


def main():
    connection = redis.Redis.from_url(os.environ["REDIS_URL"])
    worker_class = CLASSES[os.environ.get("PAGESITE_WORKER_CLASS", "simple")]
    # Burst (the throughput baseline) unless told to keep waiting (the lateness baseline).
    burst = os.environ.get("BENCH_RQ_BURST", "1") == "1"
    worker_class([sys.argv[1]], connection=connection).work(burst=burst, logging_level="WARNING")


if __name__ == "__main__":
    main()
