"""`make run` as the README gives it: runtime requirements only, and Ctrl-C ends it quietly."""

import os
import signal
import subprocess
import time
import urllib.request

import pytest

import children
from conftest import ROOT, free_port, wait_until


def test_make_run_installs_only_what_running_needs():
    plan = subprocess.run(["make", "-n", "-W", "requirements.txt", ".venv/.installed"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    assert "-r requirements.txt" in plan and "requirements-dev.txt" not in plan, plan


@pytest.mark.slow
def test_make_run_serves_on_loopback_and_ctrl_c_ends_quietly(app, test_env, tmp_path):
    port = free_port()
    log_path = tmp_path / "make-run.log"
    with open(log_path, "w") as log:
        # Ctrl-C in a terminal sends SIGINT to every process of the foreground group.
        run = children.popen(["make", "run"], cwd=ROOT, env={**os.environ, **test_env, "PORT": str(port)},
                             stdout=log, stderr=subprocess.STDOUT,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        def answers():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/signin", timeout=1).status == 200
            except OSError:
                return False

        wait_until(answers, timeout=60, interval=0.2, message="make run to serve")
        wait_until(lambda: "worker.1" in log_path.read_text(), message="the worker to start")
        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    output = log_path.read_text()
    assert f"Listening at: http://127.0.0.1:{port}" in output
    assert "make: ***" not in output and "Traceback" not in output, output[-3000:]
    assert run.returncode in (0, -signal.SIGINT), run.returncode
