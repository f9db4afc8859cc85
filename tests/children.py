"""Every process a test session starts dies with it (a pytest plugin that conftest.py loads).

Servers the tests start (the Bluesky PDS, mastodon-mock, gunicorn, workers)
are spawned with ``popen``: each in a session, and so a process group, of its
own (a Ctrl-C in the terminal reaches pytest alone, which stops them in
order), and on Linux with ``PR_SET_PDEATHSIG``, so the kernel kills one when
pytest dies, even by SIGKILL.

Whatever is still running when the session ends is killed, whole process
groups and every descendant of pytest: at the end of a normal run (and a
warning names what a fixture left behind), after Ctrl-C (pytest tears the
fixtures down, then this), on SIGTERM or SIGHUP (a CI timeout: the servers are
killed at once, then the run stops as on Ctrl-C), and at interpreter exit.
"""

import atexit
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

PR_SET_PDEATHSIG = 1
GRACE_SECONDS = 5  # after SIGTERM, before SIGKILL

_owner = os.getpid()  # the pytest process (a forked child must not act for it)
_spawned = []  # Popen objects, each the leader of its own process group
_lock = threading.Lock()


def _load_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_prctl = _load_prctl()  # looked up now: the child, between fork and exec, only calls it


def _die_with(parent, then=None):
    """A preexec_fn: SIGKILL this child when ``parent`` dies (and exit now if it already has)."""

    def preexec():
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before the request took effect
                os._exit(1)
        if then is not None:
            then()

    return preexec


def popen(args, preexec_fn=None, **kwargs):
    """``subprocess.Popen`` for a server the tests start: its own session and
    process group, killed with pytest, and killed at the end of the session at
    the latest. ``preexec_fn`` still runs (after the death signal is set)."""
    kwargs.pop("start_new_session", None)
    if threading.current_thread() is threading.main_thread():
        # The kernel sends the signal when the *thread* that forked ends, so only the main thread asks.
        preexec_fn = _die_with(os.getpid(), preexec_fn)
    proc = subprocess.Popen(args, start_new_session=True, preexec_fn=preexec_fn, **kwargs)
    track(proc)
    return proc


def track(proc):
    """Kill ``proc``'s process group (it leads one) at the end of the session, if it is still there."""
    with _lock:
        _spawned.append(proc)
    return proc


# What /proc says about processes (Linux). Elsewhere only the tracked groups are killed.

def stat(pid):
    """(state, ppid, pgid, start time) of ``pid``, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2]), int(fields[19])


def alive(pid, started=None):
    """Whether ``pid`` runs (not a zombie), and is the process that started at ``started``."""
    info = stat(pid)
    return info is not None and info[0] not in ("Z", "X") and (started is None or info[3] == started)


def command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def descendants(root=None):
    """{pid: start time} of every live process below ``root`` (default: this one)."""
    root = os.getpid() if root is None else root
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return {}
    below = {}
    for pid in pids:
        info = stat(pid)
        if info is not None and info[0] not in ("Z", "X"):
            below.setdefault(info[1], []).append((pid, info[3]))
    found, todo = {}, [root]
    while todo:
        for pid, started in below.get(todo.pop(), ()):
            if pid not in found:
                found[pid] = started
                todo.append(pid)
    return found


def _signal_all(groups, pids, sig):
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for pid, started in pids.items():
        if alive(pid, started):
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def _group_exists(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap(grace=GRACE_SECONDS):
    """Stop every process group spawned here and every descendant of this process:
    SIGTERM, then SIGKILL after ``grace`` seconds. Returns the command lines found running."""
    if os.getpid() != _owner:
        return []
    with _lock:
        spawned = list(_spawned)
    for proc in spawned:
        proc.poll()  # collects a leader that already ended
    groups = [proc.pid for proc in spawned if _group_exists(proc.pid)]
    pids = descendants()
    if not groups and not pids:
        return []
    found = [command_line(pid) or str(pid) for pid in pids]
    _signal_all(groups, pids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        for proc in spawned:
            proc.poll()
        if not any(_group_exists(g) for g in groups) and not any(alive(p, s) for p, s in pids.items()):
            break
        time.sleep(0.05)
    else:
        _signal_all(groups, pids, signal.SIGKILL)
    for proc in spawned:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    return found


_stopping = []


def _on_terminate(signum, _frame):
    if os.getpid() != _owner:  # a forked child inherited the handler: die as it would have
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    if _stopping:
        return
    _stopping.append(signum)
    sys.stderr.write(f"\n{signal.Signals(signum).name}: stopping the servers the tests started\n")
    reap()
    raise KeyboardInterrupt(f"{signal.Signals(signum).name} received")


def pytest_configure(config):
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _on_terminate)
    atexit.register(reap)


@pytest.hookimpl(trylast=True)  # after the fixtures' own teardown
def pytest_sessionfinish(session, exitstatus):
    left = reap()
    if left and not _stopping and exitstatus != 2:  # 2: interrupted, the fixtures did not all end
        lines = "\n".join(f"  {line}" for line in left)
        sys.stderr.write(f"\nProcesses still running at the end of the session, now killed:\n{lines}\n")

