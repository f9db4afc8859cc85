"""Settings are checked when the app or the worker starts: a bad value stops it
with one line naming the variable, what it must be, and what it got."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT, free_port
from pagesite import create_app
from pagesite.config import InvalidSetting


@pytest.mark.parametrize("name, value, message", [
    ("PUBLISH_TIMEOUT", "abc", 'PAGESITE_PUBLISH_TIMEOUT must be a number of seconds greater than 0, got "abc"'),
    ("PUBLISH_TIMEOUT", "0", 'PAGESITE_PUBLISH_TIMEOUT must be a number of seconds greater than 0, got "0"'),
    ("MAX_ATTACHMENTS", "2.5", 'PAGESITE_MAX_ATTACHMENTS must be a whole number of 0 or more, got "2.5"'),
    ("WORKER_PROCESSES", "0", 'PAGESITE_WORKER_PROCESSES must be a whole number of at least 1, got "0"'),
    ("WORKER_CLASS", "threads", 'PAGESITE_WORKER_CLASS must be one of simple, fork, got "threads"'),
    ("HTTPS", "maybe", 'PAGESITE_HTTPS must be true or false, got "maybe"'),
    ("ALLOWED_TYPES", '["image/svg+xml"]', "PAGESITE_ALLOWED_TYPES must be a JSON list of content types from "
                                            "image/png, image/jpeg, image/gif, image/webp, video/mp4, "
                                            'got "["image/svg+xml"]"'),
    ("PUBLISHES_PER_WORKER", "65", 'PAGESITE_PUBLISHES_PER_WORKER must be a whole number from 1 to 64, got "65"'),
    ("PER_PAGE_DEFAULT", "500", "PAGESITE_PER_PAGE_DEFAULT must be at most PAGESITE_PER_PAGE_MAX (100), "
                                'got "500"'),
])
def test_a_bad_setting_stops_the_app_with_one_line(test_env, monkeypatch, name, value, message):
    monkeypatch.setenv(f"PAGESITE_{name}", value)
    with pytest.raises(InvalidSetting) as raised:
        create_app()
    assert str(raised.value) == message


def test_the_per_channel_cap_keeps_its_old_name_until_the_new_one_is_set(test_env, monkeypatch):
    monkeypatch.setenv("PAGESITE_PROVIDER_CONCURRENCY", "3")
    assert create_app().config["CHANNEL_CONCURRENCY"] == 3
    monkeypatch.setenv("PAGESITE_CHANNEL_CONCURRENCY", "6")
    app = create_app()
    assert app.config["CHANNEL_CONCURRENCY"] == 6 and "PROVIDER_CONCURRENCY" not in app.config


def test_good_settings_are_taken(test_env, monkeypatch):
    monkeypatch.setenv("PAGESITE_PUBLISH_TIMEOUT", "2.5")
    monkeypatch.setenv("PAGESITE_HTTPS", "true")
    app = create_app()
    assert app.config["PUBLISH_TIMEOUT"] == 2.5 and app.config["HTTPS"] is True


def run(args, **env):
    return subprocess.run(args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def test_the_worker_and_the_web_server_refuse_to_start(test_env):
    line = 'PAGESITE_PUBLISH_TIMEOUT must be a number of seconds greater than 0, got "abc"'
    worker = run([sys.executable, "worker.py", "work", "--burst"], PAGESITE_PUBLISH_TIMEOUT="abc")
    assert worker.returncode != 0
    assert worker.stderr.strip() == line  # one line, no traceback
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    web = run([gunicorn, "--bind", f"127.0.0.1:{free_port()}", "--workers", "1", "wsgi:app"],
              PAGESITE_PUBLISH_TIMEOUT="abc")
    assert web.returncode == 3  # gunicorn stops rather than restarting workers forever
    assert line in web.stderr.splitlines()
    assert "Traceback" not in web.stderr
