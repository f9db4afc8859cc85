"""pagesite: compose pages, schedule them, publish them through providers."""

import logging
import os
import secrets
import tempfile
import time

import redis
from flask import Flask, request
from sqlalchemy import event, exc
from werkzeug.exceptions import HTTPException

from . import config, metrics, security
from .edge import UploadRequest, is_api_request
from .errors import ServiceError
from .extensions import csrf, db, init_redis, migrate
from .timeutil import isoformat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config=None, *, web=True):
    """The app. ``web=False`` for the worker and scheduler processes: no pages, API or
    docs routes (they build nothing from URLs), which saves about a second at start-up."""
    # PAGESITE_INSTANCE_PATH: where this process keeps its own files (default ./instance).
    app = Flask(__name__, instance_relative_config=True, instance_path=os.environ.get("PAGESITE_INSTANCE_PATH"))
    app.request_class = UploadRequest  # uploads stream straight into storage
    os.makedirs(app.instance_path, exist_ok=True)
    config.load(app, test_config)
    metrics.configure(app)
    _ensure_secret_key(app)
    _ensure_encryption_key(app)
    _configure_logging(app)
    _configure_extensions(app)
    if web:
        _configure_blueprints(app)
        _configure_error_handlers(app)
    from . import cli

    cli.register(app)
    return app


def _ensure_secret_key(app):
    """SECRET_KEY from the environment; in development, one generated into the instance folder."""
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app, "SECRET_KEY", "secret_key", lambda: secrets.token_hex(32))


def _ensure_encryption_key(app):
    """PAGESITE_ENCRYPTION_KEY (Fernet keys for channel credentials), generated likewise in development."""
    from . import encryption

    if not app.config.get("ENCRYPTION_KEY"):
        app.config["ENCRYPTION_KEY"] = _instance_secret(
            app, "PAGESITE_ENCRYPTION_KEY", "encryption_key", encryption.generate_key)
    encryption.init_app(app)


def _instance_secret(app, variable, filename, generate):
    """The contents of ``instance/<filename>``, generated on first use; refused in production."""
    if os.environ.get("PAGESITE_ENV", "development") == "production":
        raise RuntimeError(f"{variable} must be set in production (PAGESITE_ENV=production).")
    path = os.path.join(app.instance_path, filename)
    if not os.path.exists(path):
        # Web and worker processes start together: write the key whole, then
        # link it into place, so a process never reads a half-written key and
        # the first one to link wins.
        fd, temp = tempfile.mkstemp(dir=app.instance_path)
        with os.fdopen(fd, "w") as f:
            f.write(generate())
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temp)
    with open(path) as f:
        return f.read().strip()


def _configure_logging(app):
    if not logging.getLogger("pagesite").handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logging.getLogger("pagesite").addHandler(handler)
        logging.getLogger("pagesite").setLevel(app.config.get("LOG_LEVEL", "INFO"))
    # httpx logs each request's address at INFO, and a Telegram bot's token is part of its address:
    # whatever the root logger is set to, request lines are never written.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _configure_extensions(app):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        # Several processes write at once: wait for the lock instead of failing.
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        options.setdefault("connect_args", {}).setdefault("timeout", 30)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"))
    csrf.init_app(app)
    init_redis(app)
    security.init_app(app)
    app.add_template_filter(isoformat, "isotime")
    with app.app_context():
        if url.startswith("sqlite"):
            event.listen(db.engine, "connect", _sqlite_pragmas)
        elif "pool_pre_ping" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]:
            _ping_idle_connections(db.engine)


IDLE_PING_SECONDS = 10


def _ping_idle_connections(engine):
    """Check a pooled database connection before use when it has sat idle.

    ``pool_pre_ping`` pings on every checkout, and a request or a publish job
    checks a connection out once per transaction: several round trips each,
    all for connections that answered a moment ago. A connection idle for a
    while (long enough for a database restart or a firewall to drop it) is
    still pinged, and replaced if it does not answer.
    """

    def mark(_dbapi_connection, record, *_):
        record.info["pagesite_idle_since"] = time.monotonic()

    def check(dbapi_connection, record, _proxy):
        idle_since = record.info.get("pagesite_idle_since")
        if idle_since is not None and time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as e:
            raise exc.DisconnectionError(str(e)) from e
        if alive is False:
            raise exc.DisconnectionError("the database connection did not answer a ping")

    event.listen(engine, "connect", mark)
    event.listen(engine, "checkin", mark)
    event.listen(engine, "checkout", check)


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _configure_blueprints(app):
    from .api import bp as api_bp

    from .auth import bp as auth_bp

    csrf.exempt(api_bp)  # bearer tokens are not ambient credentials: no CSRF risk
    app.register_blueprint(api_bp)
    app.register_blueprint(auth_bp)

    from .docs import bp as docs_bp

    app.register_blueprint(docs_bp)

    from .web import bp as web_bp

    app.register_blueprint(web_bp)
    app.register_blueprint(metrics.bp)


def _configure_error_handlers(app):
    from . import rate_limits
    from .api.problems import from_http_exception, from_service_error, problem

    rate_limits.init_app(app)  # a 429: what was limited and when to try again

    @app.errorhandler(ServiceError)
    def service_error(error):
        if is_api_request():
            return from_service_error(error)
        return error.detail, error.status

    @app.errorhandler(HTTPException)
    def http_error(error):
        if is_api_request():
            return from_http_exception(error)
        return error

    @app.errorhandler(redis.RedisError)
    def redis_error(error):
        app.logger.exception("Redis unavailable")
        if is_api_request():
            return problem(503, "Service unavailable", "The job queue (Redis) is not answering; try again shortly.",
                           "service-unavailable")
        return "The job queue (Redis) is not answering; try again shortly.", 503

    @app.errorhandler(Exception)
    def unexpected(error):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        if is_api_request():
            return problem(500, "Internal server error", "Something went wrong on our side; it has been logged.",
                           "internal-error")
        return "Something went wrong on our side; it has been logged.", 500
