"""Fixtures: a real database (SQLite by default, PostgreSQL when
PAGESITE_TEST_DATABASE_URL says so), a real Redis, real worker processes.

A missing database or Redis stops the run with an error; nothing is skipped.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis
import sqlalchemy
from cryptography.fernet import Fernet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _configure_environment(tmp_root):
    """Settings for this test run, in os.environ so worker processes share them."""
    database_url = os.environ.get("PAGESITE_TEST_DATABASE_URL") or f"sqlite:///{tmp_root}/test.db"
    redis_url = os.environ.get("PAGESITE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key",
        "PAGESITE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PAGESITE_UPLOAD_DIR": f"{tmp_root}/uploads",
        "PAGESITE_STUB_OUTBOX": f"{tmp_root}/stub_outbox.jsonl",
        "PAGESITE_QUEUE": "pagesite-test",
        "PAGESITE_SCHEDULER_INTERVAL": "0.2",
        "PAGESITE_RECONCILE_INTERVAL": "1",
        "PAGESITE_RETRY_BASE_SECONDS": "0.2",
        "PAGESITE_RETRY_MAX_SECONDS": "2",
        "PAGESITE_PUBLISH_TIMEOUT": "5",
        "PROMETHEUS_MULTIPROC_DIR": f"{tmp_root}/metrics",
    }
    os.environ.update(env)
    return env


def _require_services(env):
    try:
        redis.Redis.from_url(env["REDIS_URL"], socket_connect_timeout=2).ping()
    except redis.RedisError as e:
        pytest.exit(f"Redis is required for the tests and does not answer at {env['REDIS_URL']}: {e}", returncode=3)
    url = env["DATABASE_URL"]
    if url.startswith("postgres"):
        from pagesite.config import database_url

        engine = sqlalchemy.create_engine(database_url("unused"))
        try:
            with engine.begin() as connection:
                # A clean schema, so the migrations run from scratch.
                connection.execute(sqlalchemy.text("DROP SCHEMA IF EXISTS public CASCADE"))
                connection.execute(sqlalchemy.text("CREATE SCHEMA public"))
        except Exception as e:
            pytest.exit(f"PostgreSQL is required for this run and does not answer at {url}: {e}", returncode=3)
        finally:
            engine.dispose()


S3_BUCKET = "pagesite-test"


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 HTTP endpoint (moto's standalone server) on 127.0.0.1, with a private bucket."""
    import s3_server

    server, url, _client = s3_server.start(S3_BUCKET)
    yield url
    server.stop()


def s3_settings(endpoint, prefix="attachments"):
    """Environment for a process that keeps attachments in the test bucket."""
    return {"PAGESITE_STORAGE": "s3", "PAGESITE_S3_BUCKET": S3_BUCKET, "PAGESITE_S3_PREFIX": prefix,
            "PAGESITE_S3_ENDPOINT_URL": endpoint}


@pytest.fixture(scope="session")
def test_env(tmp_path_factory, request):
    env = _configure_environment(str(tmp_path_factory.mktemp("pagesite")))
    # PAGESITE_TEST_STORAGE=s3 runs the whole suite with attachments in S3.
    if os.environ.get("PAGESITE_TEST_STORAGE", "local") == "s3":
        settings = s3_settings(request.getfixturevalue("s3_endpoint"))
        os.environ.update(settings)
        env.update(settings)
    _require_services(env)
    return env


@pytest.fixture(scope="session")
def app(test_env):
    from flask_migrate import upgrade

    from pagesite import create_app

    app = create_app({"TESTING": True})
    with app.app_context():
        upgrade()  # the committed migrations, not create_all: they are what users run
    return app


@pytest.fixture(autouse=True)
def clean_state(request, test_env):
    """Every test starts with empty tables, an empty Redis database and no outbox."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    from pagesite.extensions import db, get_redis

    with app.app_context():
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sqlalchemy.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    connection.execute(sqlalchemy.text(f"DELETE FROM {table}"))
        get_redis().flushdb()
        from pagesite.services import channels

        channels.install_builtin()  # the stub channel a fresh install has
        app.extensions.pop("pagesite_providers", None)
        app.extensions.pop("pagesite_has_users", None)
    if os.path.exists(test_env["PAGESITE_STUB_OUTBOX"]):
        os.unlink(test_env["PAGESITE_STUB_OUTBOX"])
    yield


_bound = []


@pytest.fixture
def bind_app(app):
    """Let helpers open app contexts of their own (each a fresh session: an app
    context held for a whole test would be shared with the test client's requests).
    Modules whose helpers need it say ``pytestmark = pytest.mark.usefixtures("bind_app")``."""
    _bound[:] = [app]
    yield app
    _bound.clear()


def bound_app():
    if not _bound:
        raise RuntimeError("this helper needs the bind_app fixture")
    return _bound[0]


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


OWNER_EMAIL = "owner@example.com"
OWNER_PASSWORD = "correct horse battery staple"
_owner_hash = []


@pytest.fixture
def user(app):
    """The account tests act as (hashed once per run: Argon2 is slow on purpose).

    Created in a context of its own: holding an app context for the whole test
    would let requests share ``g`` (and so a stale CSRF token).
    """
    from pagesite.extensions import db
    from pagesite.models import User
    from pagesite.services import auth

    with app.app_context():
        if not _owner_hash:
            _owner_hash.append(auth.create_user(OWNER_EMAIL, OWNER_PASSWORD).password_hash)
            account = db.session.query(User).filter_by(email=OWNER_EMAIL).one()
        else:
            account = User(email=OWNER_EMAIL, password_hash=_owner_hash[0])
            db.session.add(account)
            db.session.commit()
        db.session.refresh(account)
        db.session.expunge(account)
    return account


@pytest.fixture
def api_token(app, user):
    from pagesite.extensions import db
    from pagesite.services import auth

    with app.app_context():
        token, _ = auth.create_token(db.session.merge(user), "tests")
    return token


@pytest.fixture
def client(app, api_token):
    """A test client of the JSON API, with a valid bearer token."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token}"
    return client


@pytest.fixture
def anon(app):
    """A test client with no credentials at all."""
    return app.test_client()


@pytest.fixture
def outbox(test_env):
    from pagesite.providers.stub import read_outbox

    return lambda: read_outbox(test_env["PAGESITE_STUB_OUTBOX"])


@pytest.fixture
def receiver():
    """A real webhook receiver on 127.0.0.1 that verifies signatures with a fresh secret."""
    from webhook_receiver import Receiver, new_secret

    r = Receiver(secret=new_secret())
    yield r
    r.close()


class Processes:
    """Real worker, scheduler and web processes, stopped at the end of the test."""

    def __init__(self, env, log_dir):
        self.env = env
        self.log_dir = log_dir
        self.procs = []

    def start(self, *args, env=None, name="proc"):
        log_path = os.path.join(self.log_dir, f"{name}-{len(self.procs)}.log")
        log = open(log_path, "w")
        proc = subprocess.Popen(
            list(args), cwd=ROOT, env={**os.environ, **self.env, **(env or {})},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        proc.log_path = log_path
        self.procs.append(proc)
        return proc

    def worker(self, env=None):
        return self.start(sys.executable, "worker.py", "work", env=env, name="worker")

    def scheduler(self, env=None):
        return self.start(sys.executable, "worker.py", "schedule", env=env, name="scheduler")

    def web(self, env=None):
        port = int((env or {}).get("PORT") or free_port())  # a PORT given lets PAGESITE_BASE_URL name it first
        proc = self.start(
            sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
            "--threads", "4", "wsgi:app", env=env, name="web",
        )
        proc.url = f"http://127.0.0.1:{port}"
        wait_for_port(port, proc)
        wait_for_app(proc)
        return proc

    def kill(self, proc, sig=signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

    def stop_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill(proc)

    def logs(self):
        out = []
        for proc in self.procs:
            with open(proc.log_path) as f:
                out.append(f"--- {proc.log_path}\n{f.read()[-4000:]}")
        return "\n".join(out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early; see {proc.log_path}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port} after {timeout} s")


@pytest.fixture
def processes(app, test_env, tmp_path, request):
    procs = Processes(test_env, str(tmp_path))
    yield procs
    procs.stop_all()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(procs.logs())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


def wait_for_app(proc, timeout=60):
    """Wait until the web process answers HTTP (its workers import the app after the port opens)."""
    import urllib.error
    import urllib.request

    def answers():
        if proc.poll() is not None:
            raise RuntimeError(f"web process exited early; see {proc.log_path}")
        try:
            urllib.request.urlopen(proc.url + "/api/health", timeout=2).close()
        except urllib.error.HTTPError:
            return True  # any HTTP answer: the app is loaded
        except OSError:
            return False
        return True

    wait_until(answers, timeout=timeout, interval=0.1, message="the web process to answer")


def wait_until(predicate, timeout=15, interval=0.05, message="condition"):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)
