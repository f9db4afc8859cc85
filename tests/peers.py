"""The network peers tests publish to, each a real server in its own process on
a free loopback port, started once per run:

* ``pds``: the reference Bluesky PDS (``@atproto/pds`` from npm) with a PLC
  directory, installed by ``make pds`` into ``peers/``;
* ``mastodon_mock``: the ``mastodon-mock`` server from PyPI;
* ``synapse``: the Matrix homeserver Synapse from PyPI (SQLite), installed by
  ``make synapse`` into a virtualenv of its own under ``peers/``;
* ``nostr_relay``: ``nostr-relay`` from PyPI, installed by ``make nostr-relay``
  the same way.

A peer that cannot start fails the tests that need it, loudly, with its log:
nothing is skipped. Use them by importing the fixtures into a conftest.py.
"""

import glob
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
import pytest

import children
from conftest import ROOT, free_port

PEERS_DIR = os.path.join(ROOT, "peers")
START_TIMEOUT = 60  # seconds; the PDS is usually healthy 4-6 s after spawn


def _node_binary():
    found = sorted(glob.glob(os.path.join(PEERS_DIR, ".node", "node-v22*", "bin", "node")))
    installed = os.path.exists(os.path.join(PEERS_DIR, "node_modules", ".installed"))
    if not found or not installed:
        pytest.fail("The Bluesky tests need the PDS installed in peers/: run 'make pds' "
                    "(it fetches Node 22 and @atproto/pds from the npm registry).", pytrace=False)
    return found[-1]


def _log_tail(path, size=4000):
    with open(path, errors="replace") as f:
        return f.read()[-size:]


def _peer_environment():
    """The environment without what the suite sets for pagesite: a peer is not pagesite (Synapse's own
    prometheus_client, say, would write into pagesite's multiprocess metrics folder)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PAGESITE_") and k != "PROMETHEUS_MULTIPROC_DIR"}


def _start(name, argv, health_url, log_path, cwd=None):
    """Spawn a peer and wait until ``health_url`` answers 200; fail with its log otherwise."""
    log = open(log_path, "w")
    proc = children.popen(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,  # dies with the run
                          env=_peer_environment())
    deadline = time.monotonic() + START_TIMEOUT
    last_error = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{name} exited with {proc.returncode} while starting:\n{_log_tail(log_path)}", pytrace=False)
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError as e:
            last_error = e
        time.sleep(0.1)
    _stop(proc)
    pytest.fail(f"{name} did not answer {health_url} within {START_TIMEOUT} s ({last_error}):\n"
                f"{_log_tail(log_path)}", pytrace=False)


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass
class BlueskyAccount:
    did: str
    handle: str
    email: str
    password: str  # the account password (what a user must NOT give us)
    app_password: str
    access_jwt: str = field(repr=False, default="")


@dataclass
class Pds:
    url: str
    admin_password: str
    log_path: str

    def xrpc(self, method, nsid, token=None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.request(method, f"{self.url}/xrpc/{nsid}", headers=headers, timeout=15, **kwargs)
        if response.status_code != 200:
            raise AssertionError(f"{nsid} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def create_account(self, name=None):
        """A fresh account (``<name>.test``) and an app password for it, through the PDS's own API."""
        name = name or f"u{uuid.uuid4().hex[:10]}"
        handle, email, password = f"{name}.test", f"{name}@example.com", f"pw-{uuid.uuid4().hex}"
        created = self.xrpc("POST", "com.atproto.server.createAccount",
                            json={"handle": handle, "email": email, "password": password})
        app_password = self.xrpc("POST", "com.atproto.server.createAppPassword", token=created["accessJwt"],
                                 json={"name": "pagesite"})["password"]
        return BlueskyAccount(did=created["did"], handle=created["handle"], email=email, password=password,
                              app_password=app_password, access_jwt=created["accessJwt"])

    def list_records(self, did, collection="app.bsky.feed.post"):
        return self.xrpc("GET", "com.atproto.repo.listRecords",
                         params={"repo": did, "collection": collection, "limit": 100})["records"]

    def get_record(self, did, rkey, collection="app.bsky.feed.post"):
        return self.xrpc("GET", "com.atproto.repo.getRecord",
                         params={"repo": did, "collection": collection, "rkey": rkey})

    def get_blob(self, did, cid):
        response = httpx.get(f"{self.url}/xrpc/com.atproto.sync.getBlob", params={"did": did, "cid": cid}, timeout=15)
        response.raise_for_status()
        return response.content


@pytest.fixture(scope="session")
def pds(tmp_path_factory):
    """A running PDS (with its PLC directory) on loopback, for the whole run."""
    node = _node_binary()
    data = tmp_path_factory.mktemp("pds")
    port, plc_port = free_port(), free_port()
    admin_password = uuid.uuid4().hex
    log_path = str(data / "pds.log")
    proc = _start("The Bluesky PDS", [node, "pds.mjs", "--pds-port", str(port), "--plc-port", str(plc_port),
                                      "--data", str(data / "data"), "--admin-password", admin_password],
                  f"http://127.0.0.1:{port}/xrpc/_health", log_path, cwd=PEERS_DIR)
    yield Pds(url=f"http://127.0.0.1:{port}", admin_password=admin_password, log_path=log_path)
    _stop(proc)


@dataclass
class MastodonMock:
    url: str
    log_path: str
    token: str = "mock_token"  # the seeded account's token, built into mastodon-mock

    def api(self, method, path, token=None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=15, **kwargs)

    def new_account(self):
        """A fresh account and its access token (the mock's sign-up endpoint)."""
        name = f"u{uuid.uuid4().hex[:10]}"
        response = self.api("POST", "/api/v1/accounts", data={
            "username": name, "email": f"{name}@example.com", "password": "x" * 12, "agreement": "true"})
        response.raise_for_status()
        return name, response.json()["access_token"]

    def add_fault(self, rule):
        """Mock-only fault injection (a forced status, latency...) for the next matching requests."""
        self.api("POST", "/api/v1/_mock/faults", json=rule).raise_for_status()

    def clear_faults(self):
        self.api("DELETE", "/api/v1/_mock/faults").raise_for_status()


@pytest.fixture(scope="session")
def mastodon_mock_server(tmp_path_factory):
    port = free_port()
    log_path = str(tmp_path_factory.mktemp("mastodon-mock") / "mastodon-mock.log")
    proc = _start("mastodon-mock", [sys.executable, "-m", "mastodon_mock", "serve", "--host", "127.0.0.1",
                                    "--port", str(port), "--in-memory", "--log-level", "warning"],
                  f"http://127.0.0.1:{port}/api/v1/instance", log_path)
    yield MastodonMock(url=f"http://127.0.0.1:{port}", log_path=log_path)
    _stop(proc)


@pytest.fixture
def mastodon_mock(mastodon_mock_server):
    """The mastodon-mock server, with no fault rules left over from another test."""
    mastodon_mock_server.clear_faults()
    yield mastodon_mock_server
    mastodon_mock_server.clear_faults()


# -- Matrix --------------------------------------------------------------------------------------------

SYNAPSE_PYTHON = os.path.join(PEERS_DIR, ".synapse", "bin", "python")
SYNAPSE_SHARED_SECRET = "pagesite-tests-shared-secret"


@dataclass
class MatrixUser:
    user_id: str
    name: str
    password: str
    token: str = field(repr=False, default="")


@dataclass
class Synapse:
    url: str
    log_path: str

    def api(self, method, path, token=None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.request(method, f"{self.url}{path}", headers=headers, timeout=15, **kwargs)
        if response.status_code != 200:
            raise AssertionError(f"{method} {path} answered {response.status_code}: {response.text}")
        return response.json()

    def register(self, name=None, admin=False):
        """A new user through the shared-secret admin API (what register_new_matrix_user does), signed in."""
        name = name or f"u{uuid.uuid4().hex[:10]}"
        password = f"pw-{uuid.uuid4().hex}"
        nonce = self.api("GET", "/_synapse/admin/v1/register")["nonce"]
        kind = "admin" if admin else "notadmin"
        signed = b"\x00".join(part.encode() for part in (nonce, name, password, kind))
        mac = hmac.new(SYNAPSE_SHARED_SECRET.encode(), signed, hashlib.sha1)
        registered = self.api("POST", "/_synapse/admin/v1/register", json={
            "nonce": nonce, "username": name, "password": password, "admin": admin, "mac": mac.hexdigest()})
        return MatrixUser(user_id=registered["user_id"], name=name, password=password,
                          token=registered["access_token"])

    def create_room(self, owner, alias=None, **extra):
        body = {"preset": "public_chat", **({"room_alias_name": alias} if alias else {}), **extra}
        return self.api("POST", "/_matrix/client/v3/createRoom", token=owner.token, json=body)["room_id"]

    def messages(self, room_id, reader):
        """Every m.room.message in the room, oldest first, as the room's member ``reader`` sees them."""
        chunk = self.api("GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/messages", token=reader.token,
                         params={"dir": "f", "limit": 1000})["chunk"]
        return [e for e in chunk if e["type"] == "m.room.message"]


@pytest.fixture(scope="session")
def synapse(tmp_path_factory):
    """A running Synapse on loopback with SQLite, rate limits relaxed, for the whole run."""
    if not os.path.exists(os.path.join(PEERS_DIR, ".synapse", ".installed")):
        pytest.fail("The Matrix tests need Synapse installed in peers/: run 'make synapse' "
                    "(matrix-synapse from PyPI, in a virtualenv of its own).", pytrace=False)
    data = tmp_path_factory.mktemp("synapse")
    port = free_port()
    config, overrides = data / "homeserver.yaml", data / "overrides.yaml"
    generated = subprocess.run([SYNAPSE_PYTHON, "-m", "synapse.app.homeserver", "--generate-config",
                                "--server-name", "localhost", "--config-path", str(config), "--data-directory",
                                str(data), "--report-stats=no"], capture_output=True, text=True, cwd=data,
                               env=_peer_environment())
    if generated.returncode:
        pytest.fail(f"Synapse could not generate its configuration:\n{generated.stdout}{generated.stderr}",
                    pytrace=False)
    relaxed = {"per_second": 1000, "burst_count": 1000}
    # YAML is a superset of JSON: the overrides are written as JSON; later files replace top-level keys.
    overrides.write_text(json.dumps({
        "listeners": [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                       "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
        "database": {"name": "sqlite3", "args": {"database": str(data / "homeserver.db")}},
        "enable_registration": False, "registration_shared_secret": SYNAPSE_SHARED_SECRET,
        "trusted_key_servers": [], "suppress_key_server_warning": True, "max_upload_size": "5M",
        "rc_message": relaxed, "rc_registration": relaxed, "rc_media_create": relaxed,
        "rc_joins": {"local": relaxed, "remote": relaxed},
        "rc_login": {"address": relaxed, "account": relaxed, "failed_attempts": relaxed},
    }))
    log_path = str(data / "synapse.out")
    proc = _start("Synapse", [SYNAPSE_PYTHON, "-m", "synapse.app.homeserver", "-c", str(config), "-c", str(overrides)],
                  f"http://127.0.0.1:{port}/_matrix/client/versions", log_path, cwd=data)
    yield Synapse(url=f"http://127.0.0.1:{port}", log_path=log_path)
    _stop(proc)


# -- Nostr ---------------------------------------------------------------------------------------------

NOSTR_RELAY_BIN = os.path.join(PEERS_DIR, ".nostr-relay", "bin", "nostr-relay")


@dataclass
class NostrRelay:
    url: str  # ws://127.0.0.1:PORT
    log_path: str

    def events(self, **filters):
        """The events the relay holds that match ``filters`` (NIP-01 REQ, read until EOSE)."""
        from websockets.sync.client import connect

        subscription = uuid.uuid4().hex[:8]
        found = []
        with connect(self.url, open_timeout=10) as socket:
            socket.send(json.dumps(["REQ", subscription, filters]))
            while True:
                message = json.loads(socket.recv(timeout=10))
                if message[0] == "EOSE":
                    return found
                if message[0] == "EVENT" and message[1] == subscription:
                    found.append(message[2])


@pytest.fixture(scope="session")
def nostr_relay(tmp_path_factory):
    """A running nostr-relay (SQLite storage, its validators on) on loopback, for the whole run."""
    if not os.path.exists(os.path.join(PEERS_DIR, ".nostr-relay", ".installed")):
        pytest.fail("The Nostr tests need nostr-relay installed in peers/: run 'make nostr-relay' "
                    "(nostr-relay from PyPI, in a virtualenv of its own).", pytrace=False)
    data = tmp_path_factory.mktemp("nostr-relay")
    port = free_port()
    config = data / "config.yaml"
    config.write_text(json.dumps({  # YAML is a superset of JSON
        "DEBUG": False, "relay_name": "pagesite tests",
        "storage": {"sqlalchemy.url": f"sqlite+aiosqlite:///{data / 'nostr.sqlite3'}",
                    "validators": ["nostr_relay.validators.is_not_too_large", "nostr_relay.validators.is_signed",
                                   "nostr_relay.validators.is_recent"]},
        "gunicorn": {"bind": f"127.0.0.1:{port}", "workers": 1, "loglevel": "warning", "reload": False},
        "authentication": {"enabled": False}, "verification": {"nip05_verification": "disabled"},
    }))
    log_path = str(data / "nostr-relay.log")
    proc = _start("nostr-relay", [NOSTR_RELAY_BIN, "-c", str(config), "serve"], f"http://127.0.0.1:{port}/",
                  log_path, cwd=data)
    yield NostrRelay(url=f"ws://127.0.0.1:{port}", log_path=log_path)
    _stop(proc)
