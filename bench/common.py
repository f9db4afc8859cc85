"""What every benchmark shares: a fresh database and Redis, real processes,
seeding helpers and a little statistics."""

import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import timedelta

import redis
import sqlalchemy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUEUE = "pagesite-bench"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/pagesite_bench"


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform()}


def percentile(values, p):
    """The p-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def median(values):
    return statistics.median(values)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Context:
    """One run's settings: where its files go, which databases, how big."""

    def __init__(self, tmp, quick, databases, redis_url, postgres_url):
        self.tmp = tmp
        self.quick = quick
        self.databases = databases
        self.redis_url = redis_url
        self.postgres_url = postgres_url
        self.procs = []
        self.results = {}  # figures later benchmarks build on (throughput per database)
        self._app = None
        self._n = 0

    # Environment and database

    def database_url(self, db):
        if db == "postgres":
            for prefix in ("postgres://", "postgresql://"):  # the driver pagesite ships with
                if self.postgres_url.startswith(prefix):
                    return "postgresql+psycopg://" + self.postgres_url[len(prefix):]
            return self.postgres_url
        self._n += 1
        return f"sqlite:///{self.tmp}/bench-{self._n}.db"

    def fresh(self, db, **settings):
        """A migrated, empty database and an empty Redis database; returns the app.

        ``settings`` are extra PAGESITE_* variables (without the prefix) for the
        app and every process started afterwards.
        """
        self.close_app()
        url = self.database_url(db)
        env = {
            "DATABASE_URL": url,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": "pagesite-bench-secret",
            "PAGESITE_UPLOAD_DIR": os.path.join(self.tmp, "uploads"),
            "PAGESITE_STUB_OUTBOX": os.path.join(self.tmp, f"outbox-{time.monotonic_ns()}.jsonl"),
            "PAGESITE_QUEUE": QUEUE,
            "PAGESITE_ALLOWED_PRIVATE_ADDRESSES": "127.0.0.0/8,::1/128",  # any peer a benchmark starts is local
        }
        for key in [k for k in os.environ if k.startswith("PAGESITE_")]:
            del os.environ[key]
        env.update({f"PAGESITE_{k}": str(v) for k, v in settings.items()})
        os.environ.update(env)
        if db == "postgres":
            engine = sqlalchemy.create_engine(url)
            with engine.begin() as connection:
                connection.execute(sqlalchemy.text("DROP SCHEMA IF EXISTS public CASCADE"))
                connection.execute(sqlalchemy.text("CREATE SCHEMA public"))
            # Dropping and creating the tables run after run leaves the system
            # catalogs full of dead rows, and every later run slower than the
            # one before (a fifth, after a dozen runs): clear them first.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(sqlalchemy.text("VACUUM"))
            engine.dispose()
        redis.Redis.from_url(self.redis_url).flushdb()  # our own database only

        from flask_migrate import upgrade

        from pagesite import create_app

        app = create_app()
        with app.app_context():
            upgrade()
        self._app = app
        return app

    def close_app(self):
        if self._app is not None:
            from pagesite.extensions import db

            with self._app.app_context():
                db.session.remove()
                db.engine.dispose()
            self._app = None

    def redis(self):
        return redis.Redis.from_url(self.redis_url)

    # Processes

    def start(self, args, name, env=None):
        log_path = os.path.join(self.tmp, f"{name}-{len(self.procs)}.log")
        log = open(log_path, "w")
        proc = subprocess.Popen(
            list(args), cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        proc.log_path = log_path
        self.procs.append(proc)
        return proc

    def gunicorn(self, workers=2, module="wsgi:app"):
        """The web process as the Procfile runs it (sync workers, WEB_CONCURRENCY).

        ``module`` is the WSGI application; the lists benchmark serves
        ``bench.baseline_wsgi:app`` (pagesite's app plus its baseline route).
        """
        port = free_port()
        proc = self.start([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
                           str(workers), "--access-logfile", "-", module], "web")
        proc.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited early; see {proc.log_path}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start listening within 30 s")
                time.sleep(0.1)
        return proc

    def stop(self, proc, timeout=15):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self):
        for proc in list(self.procs):
            self.stop(proc)


def tail(path, n=3000):
    try:
        with open(path) as f:
            return f.read()[-n:]
    except OSError:
        return ""


# Seeding

def seed_schedules(app, rows, text="pagesite benchmark page"):
    """Insert one page and one schedule per (scheduled_at, status) in ``rows``,
    with Core bulk inserts; returns the schedule ids in order."""
    from pagesite.extensions import db
    from pagesite.models import Page, Schedule
    from pagesite.services.channels import default_channel
    from pagesite.timeutil import utcnow

    now = utcnow()
    with app.app_context():
        channel_id = default_channel().id  # the built-in stub channel of a fresh install
        with db.engine.begin() as connection:
            first = connection.execute(sqlalchemy.select(sqlalchemy.func.max(Page.id))).scalar() or 0
            batch = 5000
            for start in range(0, len(rows), batch):
                chunk = rows[start:start + batch]
                connection.execute(sqlalchemy.insert(Page), [
                    {"id": first + start + n + 1, "text": f"{text} {first + start + n + 1}", "created_at": now,
                     "updated_at": now} for n in range(len(chunk))
                ])
                connection.execute(sqlalchemy.insert(Schedule), [
                    {"page_id": first + start + n + 1, "channel_id": channel_id, "provider": "stub",
                     "scheduled_at": when, "status": status,
                     "attempts": 0 if status == "queued" else 1, "max_attempts": 5, "created_at": now,
                     "updated_at": now,
                     "published_at": when + timedelta(seconds=1) if status == "published" else None}
                    for n, (when, status) in enumerate(chunk)
                ])
            if connection.dialect.name == "postgresql":
                # Keep the id sequence in step with the explicit ids.
                connection.execute(sqlalchemy.text(
                    "SELECT setval(pg_get_serial_sequence('pages', 'id'), (SELECT max(id) FROM pages))"))
            ids = connection.execute(
                sqlalchemy.select(Schedule.id).where(Schedule.page_id > first).order_by(Schedule.page_id)
            ).scalars().all()
    return ids


def api_token(app):
    """A user and a bearer token for the API; (token, user id)."""
    from pagesite.extensions import db
    from pagesite.models import User
    from pagesite.services import auth

    with app.app_context():
        user = User(email="bench@example.com", password_hash="!not-a-password")
        db.session.add(user)
        db.session.commit()
        token, _ = auth.create_token(user, "bench")
        return token, user.id


def session_cookie(app, user_id):
    """A signed session cookie for ``user_id``, as signing in would set (with its server-side session)."""
    from pagesite.extensions import db
    from pagesite.models import User
    from pagesite.services import auth

    with app.app_context():
        key = auth.start_session(db.session.get(User, user_id))
    with app.test_request_context():
        serializer = app.session_interface.get_signing_serializer(app)
        return app.config["SESSION_COOKIE_NAME"], serializer.dumps({"sid": key, "user_id": user_id})
