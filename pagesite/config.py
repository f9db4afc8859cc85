"""Every setting pagesite reads, its default, and where it comes from.

Platform-standard variables (``DATABASE_URL``, ``REDIS_URL``, ``PORT``) are read
as-is; pagesite's own settings come from ``PAGESITE_*`` through Flask's
``from_prefixed_env`` (``PAGESITE_UPLOAD_DIR`` becomes ``UPLOAD_DIR``; values
are parsed as JSON where they can be, so ``PAGESITE_MAX_ATTACHMENTS=6`` is an int).
"""

import ipaddress
import json
import os
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

MB = 1024 * 1024

DEFAULTS = {
    # Attachments
    "STORAGE": "local",  # where attachment bytes live: "local" (UPLOAD_DIR) or "s3"
    "UPLOAD_DIR": None,  # default: <instance>/uploads; with S3, only scratch space for checks
    "S3_BUCKET": None,
    "S3_PREFIX": "",  # keys are stored under this prefix in the bucket
    "S3_ENDPOINT_URL": None,  # for MinIO, Ceph, R2...; None is AWS
    "S3_URL_EXPIRES": 60,  # seconds a presigned download URL stays valid
    "S3_PART_SIZE": 8 * MB,  # multipart upload part size: memory per upload in flight
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
    "CHANNEL_REFRESH_SECONDS": 86400,  # how often a network channel's account and limits are read again
    "LINK_CARD_TIMEOUT": 5,  # seconds to read a linked page for its card, and again for its picture
    "FEED_INTERVAL": 900,  # seconds between two reads of a feed (services/feeds.py)
    "ALLOWED_PRIVATE_ADDRESSES": "",  # address ranges outbound requests may reach although not public (outbound.py)
    # Publishing
    "PUBLISH_MAX_ATTEMPTS": 5,
    "PUBLISH_TIMEOUT": 30,  # seconds a provider call may take; then its outcome is unknown and it is retried
    "PUBLISH_NOW_WAIT": 10,  # publish-now answers 202 after this long (well inside the web server's timeout)
    "RETRY_BASE_SECONDS": 10,  # first backoff step; doubles each attempt, with jitter
    "RETRY_MAX_SECONDS": 3600,
    "CHANNEL_CONCURRENCY": 4,  # concurrent publishes per channel (account), across all workers
    # Worker and scheduler
    "QUEUE": "pagesite",
    "SCHEDULER_INTERVAL": 1,
    "RECONCILE_INTERVAL": 5,
    "WORKER_PROCESSES": 2,
    "PUBLISHES_PER_WORKER": 8,  # publishes one worker process has in flight at once (provider calls in threads)
    "HEARTBEAT_STALE_SECONDS": 15,  # health is 503 after this much silence (at most the TTL)
    "HEARTBEAT_TTL": 15,  # a silent worker's claims are rescued after this long
    "HEARTBEAT_INTERVAL": 1,
    # Stub provider
    "STUB_OUTBOX": None,  # default: <instance>/stub_outbox.jsonl
    "STUB_DELAY_MS": 0,
    # Deployment
    "HTTPS": False,  # served over HTTPS: Secure cookies, HSTS
    "PROXY_FIX": False,  # trust one reverse proxy's X-Forwarded-* headers
    "HEALTH_RATE_LIMIT": "60 per minute",  # GET /api/health without a token, per client address
    "WORKER_CLASS": "simple",  # RQ SimpleWorker; "fork" for a process per job
    "LOG_LEVEL": "INFO",
    # Rate limits (Flask-Limiter syntax, several joined by ";"), counted in Redis
    "SIGNIN_RATE_LIMIT": "10 per minute;50 per hour",  # failed sign-ins (and set-up attempts) per client address
    "SIGNIN_ACCOUNT_RATE_LIMIT": "20 per hour",  # failed sign-ins per account (the email typed)
    "TOKEN_RATE_LIMIT": "10 per hour",  # API tokens created per account (Settings and the API together)
    "CONNECT_RATE_LIMIT": "20 per hour",  # channel connections tried per account (the API and the web forms)
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


def address_ranges(value):
    """``"127.0.0.0/8, ::1"`` -> the networks it names; ValueError when a part is not an address or range."""
    if not isinstance(value, str):
        raise ValueError(value)
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())


@lru_cache(maxsize=8)
def _ranges_of(value):
    return address_ranges(value)


def allowed_private_addresses():
    """The ranges PAGESITE_ALLOWED_PRIVATE_ADDRESSES lets outbound requests reach, read from the
    environment at each request, so every process and thread (and a test that changes it) sees
    the same; checked at start by ``check``."""
    return _ranges_of(os.environ.get("PAGESITE_ALLOWED_PRIVATE_ADDRESSES", ""))


def without_password(url):
    """A database or Redis URL fit for a log line: the password left out, the rest as given."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=user + host))


# Settings whose name changed: {old: new}. The old PAGESITE_ name is still read.
RENAMED = {"PROVIDER_CONCURRENCY": "CHANNEL_CONCURRENCY"}  # the cap is per channel (an account), not per network


def load(app, test_config=None):
    """Fill ``app.config``: defaults, then the environment, then ``test_config``."""
    app.config.update(DEFAULTS)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(app.instance_path)
    app.config["REDIS_URL"] = redis_url()
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY")
    app.config.from_prefixed_env("PAGESITE")
    for old, new in RENAMED.items():  # an old name keeps working until its new one is set
        if f"PAGESITE_{old}" in os.environ and f"PAGESITE_{new}" not in os.environ:
            app.config[new] = app.config.pop(old)
        app.config.pop(old, None)
    if test_config:
        app.config.update(test_config)

    config = app.config
    config.setdefault("UPLOAD_DIR", None)
    config["UPLOAD_DIR"] = config["UPLOAD_DIR"] or os.path.join(app.instance_path, "uploads")
    config["STUB_OUTBOX"] = config["STUB_OUTBOX"] or os.path.join(app.instance_path, "stub_outbox.jsonl")
    # Signing in through a network needs the address people really use (its redirect comes back there).
    config["BASE_URL_GIVEN"] = bool(config["BASE_URL"])
    config["BASE_URL"] = (config["BASE_URL"] or f"http://127.0.0.1:{os.environ.get('PORT', '5000')}").rstrip("/")
    # The whole request may carry one video plus form fields; per-kind limits are
    # enforced while streaming, this is the outer bound that answers 413 early.
    config.setdefault("MAX_CONTENT_LENGTH", max(config["MAX_IMAGE_BYTES"], config["MAX_VIDEO_BYTES"]) + MB)
    # No pool_pre_ping by default: pagesite pings only connections that sat idle
    # (see _ping_idle_connections); set it to ping before every use instead.
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    config["JSON_SORT_KEYS"] = False
    check(config)


class InvalidSetting(ValueError):
    """A setting with a value pagesite cannot run with; the message is one line for the operator."""


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


MAX_PUBLISHES_PER_WORKER = 64


def _at_least(minimum, whole=True, unit=""):
    kind = "a whole number" if whole else "a number"
    words = f"{kind}{unit} of at least {minimum}" if minimum else f"{kind}{unit} of 0 or more"
    return (lambda v: (_whole(v) if whole else _number(v)) and v >= minimum), words


def _between(minimum, maximum):
    return (lambda v: _whole(v) and minimum <= v <= maximum), f"a whole number from {minimum} to {maximum}"


def _above_zero(unit=" of seconds"):
    return (lambda v: _number(v) and v > 0), f"a number{unit} greater than 0"


def _one_of(*choices):
    return (lambda v: v in choices), "one of " + ", ".join(choices)


def _is_address_ranges(value):
    try:
        address_ranges(value)
    except ValueError:
        return False
    return True


def _is_rate_limit(value):
    from limits import parse_many

    try:
        return isinstance(value, str) and bool(parse_many(value))
    except ValueError:
        return False


_NAME = (lambda v: isinstance(v, str) and v.strip() != ""), "a non-empty name"
_PATH = (lambda v: v is None or (isinstance(v, str) and v != "")), "a path"
_FLAG = (lambda v: isinstance(v, bool) or v in (0, 1)), "true or false"


def _limit_text(value):
    from limits import parse_many

    try:
        return isinstance(value, str) and bool(parse_many(value))
    except ValueError:
        return False


_LIMIT = _limit_text, 'a rate limit such as "10 per hour" (several joined by ";")'

# What each PAGESITE_* setting must be: (test, the requirement in words).
RULES = {
    "STORAGE": _one_of("local", "s3"),
    "UPLOAD_DIR": _PATH,
    "S3_BUCKET": (lambda v: v is None or (isinstance(v, str) and len(v) >= 3), "a bucket name"),
    "S3_PREFIX": (lambda v: isinstance(v, str), "a key prefix (may be empty)"),
    "S3_ENDPOINT_URL": (lambda v: v is None or (isinstance(v, str) and v.startswith(("http://", "https://"))),
                        "an http:// or https:// URL"),
    "S3_URL_EXPIRES": _at_least(1, unit=" of seconds"),
    "S3_PART_SIZE": _at_least(5 * MB, unit=" of bytes"),
    "ALLOWED_TYPES": (lambda v: isinstance(v, list) and v and all(t in DEFAULTS["ALLOWED_TYPES"] for t in v),
                      "a JSON list of content types from " + ", ".join(DEFAULTS["ALLOWED_TYPES"])),
    "MAX_IMAGE_BYTES": _at_least(1, unit=" of bytes"),
    "MAX_VIDEO_BYTES": _at_least(1, unit=" of bytes"),
    "MAX_IMAGE_PIXELS": _at_least(1),
    "MAX_TEXT_LENGTH": _at_least(1),
    "MAX_ATTACHMENTS": _at_least(0),
    "DEFAULT_CHANNEL": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 1)
                        or (isinstance(v, str) and 0 < len(v.strip()) <= 100), "a channel id or name"),
    "ENCRYPTION_KEY": (lambda v: v is None or (isinstance(v, str) and v.strip() != ""),
                       "one or more Fernet keys, separated by commas"),
    "BASE_URL": (lambda v: isinstance(v, str) and v.startswith(("http://", "https://")), "an http:// or https:// URL"),
    "ATTACHMENT_LINK_SECONDS": _at_least(1, unit=" of seconds"),
    "WEBHOOK_TIMEOUT": _above_zero(),
    "CHANNEL_REFRESH_SECONDS": _at_least(1, unit=" of seconds"),
    "LINK_CARD_TIMEOUT": _above_zero(),
    "FEED_INTERVAL": _at_least(1, unit=" of seconds"),
    "ALLOWED_PRIVATE_ADDRESSES": (_is_address_ranges, "comma-separated address ranges in CIDR form (10.0.0.0/8)"),
    "PUBLISH_MAX_ATTEMPTS": _at_least(1),
    "PUBLISH_TIMEOUT": _above_zero(),
    "PUBLISH_NOW_WAIT": _above_zero(),
    "RETRY_BASE_SECONDS": _above_zero(),
    "RETRY_MAX_SECONDS": _above_zero(),
    "CHANNEL_CONCURRENCY": _at_least(1),
    "QUEUE": _NAME,
    "SCHEDULER_INTERVAL": _above_zero(),
    "RECONCILE_INTERVAL": _above_zero(),
    "WORKER_PROCESSES": _at_least(1),
    # Each publish in flight may need two threads (its call, and one that outlived its
    # timeout and has not ended yet); past this, a process is better split in two.
    "PUBLISHES_PER_WORKER": _between(1, MAX_PUBLISHES_PER_WORKER),
    "HEARTBEAT_STALE_SECONDS": _above_zero(),
    "HEARTBEAT_TTL": _above_zero(),
    "HEARTBEAT_INTERVAL": _above_zero(),
    "STUB_OUTBOX": _PATH,
    "STUB_DELAY_MS": _at_least(0, whole=False, unit=" of milliseconds"),
    "HTTPS": _FLAG,
    "PROXY_FIX": _FLAG,
    "HEALTH_RATE_LIMIT": (_is_rate_limit, 'a rate limit such as "60 per minute" (several joined by ";")'),
    "WORKER_CLASS": _one_of("simple", "fork"),
    "LOG_LEVEL": _one_of("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
    "PER_PAGE_DEFAULT": _at_least(1),
    "PER_PAGE_MAX": _at_least(1),
    "SIGNIN_RATE_LIMIT": _LIMIT,
    "SIGNIN_ACCOUNT_RATE_LIMIT": _LIMIT,
    "TOKEN_RATE_LIMIT": _LIMIT,
    "CONNECT_RATE_LIMIT": _LIMIT,
}


def check(config):
    """Stop with one line naming the first setting that is wrong, what it must be, and what it got."""
    env = os.environ.get("PAGESITE_ENV", "development")
    if env not in ("development", "production"):
        raise InvalidSetting(f'PAGESITE_ENV must be development or production, got "{env}"')
    for name, (test, requirement) in RULES.items():
        value = config.get(name)
        if not test(value):
            raw = os.environ.get(f"PAGESITE_{name}")
            got = raw if raw is not None else json.dumps(value)
            raise InvalidSetting(f'PAGESITE_{name} must be {requirement}, got "{got}"')
    if config["PER_PAGE_DEFAULT"] > config["PER_PAGE_MAX"]:
        raise InvalidSetting(f"PAGESITE_PER_PAGE_DEFAULT must be at most PAGESITE_PER_PAGE_MAX "
                             f"({config['PER_PAGE_MAX']}), got \"{config['PER_PAGE_DEFAULT']}\"")
    if config["RETRY_BASE_SECONDS"] > config["RETRY_MAX_SECONDS"]:
        raise InvalidSetting(f"PAGESITE_RETRY_BASE_SECONDS must be at most PAGESITE_RETRY_MAX_SECONDS "
                             f"({config['RETRY_MAX_SECONDS']}), got \"{config['RETRY_BASE_SECONDS']}\"")
