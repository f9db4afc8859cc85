"""A test run that is stopped, however it is stopped, leaves no process behind:
not the Bluesky PDS (node), not mastodon-mock, not gunicorn or a worker."""

import json
import os
import signal
import subprocess
import sys

import pytest

import children
from conftest import ROOT, redis_url_of_run, wait_until


def held_run_environment(pids_path):
    """The held run's settings: a SQLite database and a Redis database of its own (below
    those of every parallel run). Its start-up empties both (on PostgreSQL it drops the
    schema), which must not reach the tables and queue of the runs around it."""
    env = {name: value for name, value in os.environ.items()
           if name != "PAGESITE_TEST_DATABASE_URL" and not name.startswith("PYTEST_XDIST_")}
    env["PAGESITE_TEST_REDIS_URL"] = redis_url_of_run(offset=int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", 1)))
    env["PAGESITE_HELD_RUN_PIDS"] = str(pids_path)
    return env


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGKILL"])
def test_a_stopped_test_run_leaves_no_process_behind(test_env, tmp_path, how):
    pids_path, log_path = tmp_path / "pids.json", tmp_path / "run.log"
    with open(log_path, "w") as log:
        run = children.popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "run"),
             "tests/held_run.py"],
            cwd=ROOT, env=held_run_environment(pids_path), stdout=log,
            stderr=subprocess.STDOUT,
            # A shell's background job ignores SIGINT, and Python keeps an ignored SIGINT ignored.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    held = {}
    try:
        wait_until(lambda: pids_path.exists() or run.poll() is not None, timeout=120, interval=0.1,
                   message="the run to start its servers")
        assert pids_path.exists(), f"the run ended before its servers started:\n{log_path.read_text()[-4000:]}"
        held = {int(pid): info for pid, info in json.loads(pids_path.read_text())["processes"].items()}
        commands = [command for _, command in held.values()]
        for what in ("pds.mjs", "mastodon_mock", "gunicorn", "worker.py"):
            assert any(what in command for command in commands), (what, commands)

        os.kill(run.pid, getattr(signal, how))
        run.wait(timeout=60)

        def survivors():
            return {pid: command for pid, (started, command) in held.items() if children.alive(pid, started)}

        try:
            wait_until(lambda: not survivors(), timeout=15, message="the servers to stop")
        except AssertionError:
            raise AssertionError(f"after {how} to pytest, still running: {survivors()}\n"
                                 f"{log_path.read_text()[-3000:]}") from None
        if how != "SIGKILL":
            assert run.returncode == pytest.ExitCode.INTERRUPTED, log_path.read_text()[-3000:]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for pid, (started, _) in held.items():
            if children.alive(pid, started):
                os.kill(pid, signal.SIGKILL)
