"""A test run that starts the servers the tests use, then waits to be killed.

``test_leftovers.py`` runs it in a pytest of its own, kills that pytest (SIGTERM,
SIGINT or SIGKILL) and checks that none of the processes it started survives.
A normal run never collects it: its name does not start with ``test_``.
"""

import json
import os
import threading

import children
from conftest import Processes
from peers import mastodon_mock_server, pds  # noqa: F401 (fixtures)


def test_start_the_servers_then_wait_to_be_killed(pds, mastodon_mock_server, test_env, tmp_path):
    processes = Processes(test_env, str(tmp_path))  # not the fixture: nothing here stops them but the plugin
    processes.web()
    processes.worker()
    running = {pid: [started, children.command_line(pid)] for pid, started in children.descendants().items()}
    path = os.environ["PAGESITE_HELD_RUN_PIDS"]
    with open(path + ".part", "w") as f:
        json.dump({"pytest": os.getpid(), "processes": running}, f)
    os.replace(path + ".part", path)
    assert threading.Event().wait(120), "nobody killed this run"
