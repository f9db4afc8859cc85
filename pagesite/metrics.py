"""Prometheus metrics at ``GET /metrics`` (text format), behind an API token.

Counters and histograms are recorded where things happen (publishes, provider
calls, uploads) by every process, web and worker alike, in prometheus-client's
multiprocess mode: each process writes to files in ``PROMETHEUS_MULTIPROC_DIR``
(default ``<instance>/metrics``), and the scrape adds them up. Processes that
should add up must share that folder, so on several machines scrape each
machine's web process. Gauges of the system's state (queue depth, due but
unclaimed, oldest overdue, heartbeat ages) are read at scrape time from the
database and Redis, so they are the same on every machine.

prometheus-client picks its storage when first imported, so nothing here
imports it before ``configure`` has set the folder.
"""

import os
import threading
from functools import lru_cache

from flask import Blueprint, current_app

bp = Blueprint("metrics", __name__)

LATENESS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def configure(app):
    """Point prometheus-client at the shared folder (before it is imported)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(app.instance_path, "metrics")
    os.makedirs(folder, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


_instruments_lock = threading.Lock()


def _instruments():
    # A web process serves requests from several threads: two first calls at
    # once would both register the metrics, and the second would be refused
    # ("Duplicated timeseries"); lru_cache alone does not stop that.
    with _instruments_lock:
        return _make_instruments()


@lru_cache(maxsize=None)
def _make_instruments():
    from prometheus_client import Counter, Histogram

    return {
        "publishes": Counter("pagesite_publishes", "Publish attempts by provider and outcome "
                             "(published, retrying, failed, lost).", ["provider", "outcome"]),
        "lateness": Histogram("pagesite_publish_lateness_seconds", "From the time an attempt was due to its claim.",
                              ["provider"], buckets=LATENESS_BUCKETS),
        "calls": Histogram("pagesite_provider_call_seconds", "Duration of provider calls.", ["provider"],
                           buckets=CALL_BUCKETS),
        "uploads": Counter("pagesite_uploads", "Uploads by outcome (stored, refused, too_large, failed).",
                           ["outcome"]),
    }


def _safely(record):
    # Metrics must never break a publish or an upload.
    try:
        record(_instruments())
    except Exception:
        current_app.logger.exception("recording a metric failed")


def publish_claimed(provider, lateness_seconds):
    _safely(lambda m: m["lateness"].labels(provider).observe(max(0.0, lateness_seconds)))


def publish_finished(provider, outcome, duration_ms=None):
    def record(m):
        m["publishes"].labels(provider, outcome).inc()
        if duration_ms is not None:
            m["calls"].labels(provider).observe(duration_ms / 1000)

    _safely(record)


def upload_finished(outcome):
    _safely(lambda m: m["uploads"].labels(outcome).inc())


class _StateCollector:
    """Gauges read at scrape time from the database and Redis (the health report)."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from .services import health

        _healthy, details = health.report()
        checks = details["checks"]
        up = GaugeMetricFamily("pagesite_up", "Whether each part answers (1) or not (0).", labels=["component"])
        for name in ("database", "redis", "worker", "scheduler"):
            if name in checks:
                up.add_metric([name], 1.0 if checks[name]["ok"] else 0.0)
        yield up
        if "queue_depth" in details:
            yield GaugeMetricFamily("pagesite_queue_depth", "Jobs waiting in the queue.",
                                    value=details["queue_depth"])
        schedules = details.get("schedules")
        if schedules:
            yield GaugeMetricFamily("pagesite_due_unclaimed", "Schedules due and still queued.",
                                    value=schedules["due_unclaimed"])
            yield GaugeMetricFamily("pagesite_publishing", "Schedules being published right now.",
                                    value=schedules["publishing"])
            yield GaugeMetricFamily("pagesite_oldest_overdue_seconds",
                                    "How long the oldest due, unclaimed schedule has waited (0 if none).",
                                    value=schedules["oldest_overdue_seconds"] or 0.0)
        if "worker" in checks:
            ages = GaugeMetricFamily("pagesite_worker_heartbeat_age_seconds",
                                     "Seconds since each live worker's last heartbeat.", labels=["worker"])
            for worker, age in sorted(_worker_ages().items()):
                ages.add_metric([worker], age)
            yield ages
        if checks.get("scheduler", {}).get("last_heartbeat_age") is not None:
            yield GaugeMetricFamily("pagesite_scheduler_heartbeat_age_seconds",
                                    "Seconds since the scheduler's last heartbeat.",
                                    value=checks["scheduler"]["last_heartbeat_age"])


def _worker_ages():
    from . import heartbeats
    from .extensions import get_redis

    try:
        return heartbeats.worker_ages(get_redis())
    except Exception:  # Redis down: pagesite_up says so
        return {}


@bp.get("/metrics")
def metrics():
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(_StateCollector())
    response = current_app.response_class(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response
