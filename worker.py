"""The worker process entry point.

    python worker.py              one scheduler and PAGESITE_WORKER_PROCESSES workers
    python worker.py work         a single worker process   [--burst]
    python worker.py schedule     a single scheduler process [--burst]

Each waits for Redis and the database (saying once what does not answer) and
refuses to start, in one line, when the queue belongs to another installation.
"""

import argparse
import sys

from pagesite import processes
from pagesite.config import InvalidSetting
from pagesite.installation import QueueOwnedElsewhere


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", nargs="?", choices=["all", "work", "schedule"], default="all")
    parser.add_argument("--burst", action="store_true", help="quit when there is nothing left to do")
    parser.add_argument("--processes", type=int, help="worker processes (all only)")
    args = parser.parse_args(argv)
    try:
        if args.role == "work":
            processes.run_worker(burst=args.burst)
        elif args.role == "schedule":
            processes.run_scheduler(burst=args.burst)
        else:
            processes.supervise(args.processes)
    except (InvalidSetting, QueueOwnedElsewhere) as e:
        sys.exit(str(e))  # one line for the operator, no traceback


if __name__ == "__main__":
    main()
