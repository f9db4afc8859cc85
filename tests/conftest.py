"""Fixtures: a real database (SQLite by default, PostgreSQL when
PAGESITE_TEST_DATABASE_URL says so), a real Redis, real worker processes.

A missing database or Redis stops the run with an error; nothing is skipped.
"""

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import pytest
import redis
import sqlalchemy
from cryptography.fernet import Fernet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytest_plugins = ["children"]  # every process the tests start dies with the run


def pytest_configure(config):
    """Collecting writes nothing into the repository: an app a test module
    creates at import keeps its instance folder (generated keys) in a
    temporary folder, and Hypothesis its cache."""
    scratch = tempfile.mkdtemp(prefix="pagesite-tests-")
    os.environ["PAGESITE_INSTANCE_PATH"] = os.path.join(scratch, "instance")
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = os.path.join(scratch, "hypothesis")
    config.add_cleanup(lambda: shutil.rmtree(scratch, ignore_errors=True))


# A test that starts real worker, scheduler or web processes or a network peer (PDS, Synapse, relay),
# and a migration test (it runs `flask db` in processes of its own, several
# times), is slow without having to say so: ``make test-fast`` leaves it out.
SLOW_FIXTURES = {"processes", "workers", "web_servers", "pds", "synapse", "nostr_relay"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if (SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ()))
                or item.path.name.startswith("test_migration_")):
            item.add_marker(pytest.mark.slow)


def run_index():
    """0, or which of pytest-xdist's parallel runs (``make test``'s ``-n``) this process is."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...
    return int(worker[2:]) if worker.startswith("gw") else 0


def redis_url_of_run(offset=None):
    """PAGESITE_TEST_REDIS_URL's database for this run; parallel runs count down from
    it (15, 14, 13, ...), so each has a Redis database, and so a queue, of its own."""
    parts = urllib.parse.urlsplit(os.environ.get("PAGESITE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    db = int(parts.path.strip("/") or 0) - (run_index() if offset is None else offset)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{db % 16}"))


def _postgres_database_of_run(url):
    """PAGESITE_TEST_DATABASE_URL for the first run; a database of its own beside it
    (``test_gw1``, created when missing) for each further parallel run."""
    from sqlalchemy.engine import make_url

    index = run_index()
    if not index:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_gw{index}"
    admin = sqlalchemy.create_engine(parsed.set(drivername="postgresql+psycopg", database="postgres"),
                                     isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if not connection.execute(sqlalchemy.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                      {"name": name}).first():
                connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def _configure_environment(tmp_root):
    """Settings for this test run, in os.environ so worker processes share them."""
    database_url = os.environ.get("PAGESITE_TEST_DATABASE_URL")
    database_url = _postgres_database_of_run(database_url) if database_url else f"sqlite:///{tmp_root}/test.db"
    redis_url = redis_url_of_run()
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key",
        "PAGESITE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PAGESITE_INSTANCE_PATH": f"{tmp_root}/instance",
        "PAGESITE_UPLOAD_DIR": f"{tmp_root}/uploads",
        "PAGESITE_STUB_OUTBOX": f"{tmp_root}/stub_outbox.jsonl",
        "PAGESITE_QUEUE": "pagesite-test",
        "PAGESITE_SCHEDULER_INTERVAL": "0.2",
        "PAGESITE_RECONCILE_INTERVAL": "1",
        "PAGESITE_RETRY_BASE_SECONDS": "0.2",
        "PAGESITE_RETRY_MAX_SECONDS": "2",
        "PAGESITE_PUBLISH_TIMEOUT": "5",
        # Every peer of the tests is on this machine; the tests of the refusal turn it off for themselves.
        "PAGESITE_ALLOWED_PRIVATE_ADDRESSES": "127.0.0.0/8,::1/128",
        # One gunicorn worker process (with its threads) per web server; a test of several says so.
        "WEB_CONCURRENCY": "1",
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


def empty_tables(app):
    """Every table emptied and its ids restarted, then the stub channel a fresh install has.
    The installation row stays: the run is one installation (processes cache its id)."""
    from pagesite.extensions import db
    from pagesite.services import channels

    with app.app_context():
        tables = [t.name for t in reversed(db.metadata.sorted_tables) if t.name != "installation"]
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sqlalchemy.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    connection.execute(sqlalchemy.text(f"DELETE FROM {table}"))
        channels.install_builtin()


@pytest.fixture(autouse=True)
def clean_state(request, test_env):
    """Every test starts with empty tables, an empty Redis database and no outbox.
    The installation row stays: the run is one installation (processes cache its id)."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    from pagesite.extensions import get_redis

    empty_tables(app)
    with app.app_context():
        get_redis().flushdb()
        app.extensions.pop("pagesite_providers", None)
        app.extensions.pop("pagesite_has_users", None)
    outbox = test_env["PAGESITE_STUB_OUTBOX"]
    if os.path.exists(outbox):
        # Moved aside, not deleted: the next outbox gets an inode of its own, so a process
        # kept from test to test (the browser tests' web server) sees a new file and reads it
        # from the start (a freed inode is handed out again at once, and would look like the old file).
        os.replace(outbox, f"{outbox}.{time.monotonic_ns()}")
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
def short_timeout(app):
    """Provider calls time out after half a second, and retries come at once (0.5 is yielded)."""
    saved = {k: app.config[k] for k in ("PUBLISH_TIMEOUT", "RETRY_BASE_SECONDS", "RETRY_MAX_SECONDS")}
    app.config.update(PUBLISH_TIMEOUT=0.5, RETRY_BASE_SECONDS=0.01, RETRY_MAX_SECONDS=0.02)
    yield 0.5
    app.config.update(saved)


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
        import children  # the plugin (imported by pytest first, so its asserts are rewritten)

        proc = children.popen(
            list(args), cwd=ROOT, env={**os.environ, **self.env, **(env or {})},
            stdout=log, stderr=subprocess.STDOUT,
        )
        proc.log_path = log_path
        self.procs.append(proc)
        return proc

    def worker(self, env=None):
        return self.start(sys.executable, "worker.py", "work", env=env, name="worker")

    def scheduler(self, env=None):
        return self.start(sys.executable, "worker.py", "schedule", env=env, name="scheduler")

    def web(self, env=None):
        """The web process as production runs it: the Procfile's command, so gunicorn.conf.py's
        workers and threads (``env`` may change them: WEB_CONCURRENCY, PAGESITE_WEB_THREADS)."""
        port = int((env or {}).get("PORT") or free_port())  # a PORT given lets PAGESITE_BASE_URL name it first
        proc = self.start(*procfile_command("web"), env={**(env or {}), "PORT": str(port)}, name="web")
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
        """At the end of a test: every process group killed at once. A graceful stop
        takes gunicorn or a worker seconds, and nothing is checked after it (the tests of
        graceful stops send SIGTERM themselves); killed, nothing a process was still doing
        can land in the next test's tables."""
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the leader may be gone and its workers not
            except ProcessLookupError:
                pass
        for proc in self.procs:
            proc.wait(timeout=10)

    def logs(self):
        out = []
        for proc in self.procs:
            with open(proc.log_path) as f:
                out.append(f"--- {proc.log_path}\n{f.read()[-4000:]}")
        return "\n".join(out)


def procfile_command(role):
    """The Procfile's command for ``role``, run with this run's Python."""
    with open(os.path.join(ROOT, "Procfile")) as f:
        for line in f:
            name, colon, command = line.partition(":")
            if colon and name.strip() == role:
                program, *args = shlex.split(command)
                return [sys.executable, *([] if program == "python" else ["-m", program]), *args]
    raise LookupError(f"the Procfile has no {role!r} process")


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
