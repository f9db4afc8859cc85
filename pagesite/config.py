"""Every setting pagesite reads, its default, and where it comes from.

Platform-standard variables (``DATABASE_URL``, ``REDIS_URL``, ``PORT``) are read
as-is; pagesite's own settings come from ``PAGESITE_*`` through Flask's
``from_prefixed_env`` (``PAGESITE_UPLOAD_DIR`` becomes ``UPLOAD_DIR``; values
are parsed as JSON where they can be, so ``PAGESITE_MAX_ATTACHMENTS=6`` is an int).
"""

import os

MB = 1024 * 1024

DEFAULTS = {
    # Attachments
    "UPLOAD_DIR": None,  # default: <instance>/uploads
    "ALLOWED_TYPES": ["image/png", "image/jpeg", "image/gif", "image/webp", "video/mp4"],
    "MAX_IMAGE_BYTES": 10 * MB,
    "MAX_VIDEO_BYTES": 200 * MB,
    "MAX_IMAGE_PIXELS": 40_000_000,  # refuse decompression bombs
    # Pages
    "MAX_TEXT_LENGTH": 5000,
    "MAX_ATTACHMENTS": 4,
    # Channels
    "DEFAULT_CHANNEL": None,  # id or name of the channel "default" means (see services/channels.py)
    "ENCRYPTION_KEY": None,  # Fernet key(s) for channel credentials; generated into instance/ in development
    "BASE_URL": None,  # absolute base of links handed to others (attachment links); default http://127.0.0.1:PORT
    "ATTACHMENT_LINK_SECONDS": 86400,  # how long a signed attachment link in a webhook works
    "WEBHOOK_TIMEOUT": 10,  # seconds a webhook receiver may take to answer
    # Publishing
    "PUBLISH_MAX_ATTEMPTS": 5,
    "PUBLISH_TIMEOUT": 30,  # seconds a provider call may take before the job is killed
    "RETRY_BASE_SECONDS": 10,  # first backoff step; doubles each attempt, with jitter
    "RETRY_MAX_SECONDS": 3600,
    "PROVIDER_CONCURRENCY": 4,  # concurrent publishes per channel, across all workers
    # Worker and scheduler
    "QUEUE": "pagesite",
    "SCHEDULER_INTERVAL": 1,
    "RECONCILE_INTERVAL": 5,
    "WORKER_PROCESSES": 2,
    "HEARTBEAT_STALE_SECONDS": 15,  # health is 503 after this much silence (at most the TTL)
    "HEARTBEAT_TTL": 15,  # a silent worker's claims are rescued after this long
    "HEARTBEAT_INTERVAL": 1,
    # Stub provider
    "STUB_OUTBOX": None,  # default: <instance>/stub_outbox.jsonl
    "STUB_DELAY_MS": 0,
    # Deployment
    "HTTPS": False,  # served over HTTPS: Secure cookies, HSTS
    "PROXY_FIX": False,  # trust one reverse proxy's X-Forwarded-* headers
    "WORKER_CLASS": "simple",  # RQ SimpleWorker; "fork" for a process per job
    "LOG_LEVEL": "INFO",
    # Lists
    "PER_PAGE_DEFAULT": 20,
    "PER_PAGE_MAX": 100,
}


def database_url(instance_path):
    """DATABASE_URL, normalised to the drivers pagesite ships with."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "pagesite.db")
    # Platforms hand out postgres:// URLs; SQLAlchemy wants a driver name.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def redis_url():
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def load(app, test_config=None):
    """Fill ``app.config``: defaults, then the environment, then ``test_config``."""
    app.config.update(DEFAULTS)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(app.instance_path)
    app.config["REDIS_URL"] = redis_url()
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY")
    app.config.from_prefixed_env("PAGESITE")
    if test_config:
        app.config.update(test_config)

    config = app.config
    config.setdefault("UPLOAD_DIR", None)
    config["UPLOAD_DIR"] = config["UPLOAD_DIR"] or os.path.join(app.instance_path, "uploads")
    config["STUB_OUTBOX"] = config["STUB_OUTBOX"] or os.path.join(app.instance_path, "stub_outbox.jsonl")
    config["BASE_URL"] = (config["BASE_URL"] or f"http://127.0.0.1:{os.environ.get('PORT', '5000')}").rstrip("/")
    # The whole request may carry one video plus form fields; per-kind limits are
    # enforced while streaming, this is the outer bound that answers 413 early.
    config.setdefault("MAX_CONTENT_LENGTH", max(config["MAX_IMAGE_BYTES"], config["MAX_VIDEO_BYTES"]) + MB)
    # No pool_pre_ping by default: pagesite pings only connections that sat idle
    # (see _ping_idle_connections); set it to ping before every use instead.
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    config["JSON_SORT_KEYS"] = False
