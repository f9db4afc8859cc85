"""First run in a real browser: the web process listens on loopback and prints a set-up code that /setup needs."""

import re

import pytest
from playwright.sync_api import expect

from conftest import free_port, procfile_command, wait_for_port, wait_until

pytestmark = pytest.mark.browser

CODE = re.compile(r"set-up code:\s+([A-Z0-9]{4}(?:-[A-Z0-9]{4}){3})")


def start_web(processes, **env):
    """gunicorn as the Procfile starts it: no --bind, only gunicorn.conf.py and the environment."""
    port = free_port()
    proc = processes.start(*procfile_command("web"), env={"PORT": str(port), **env}, name="web")
    proc.url = f"http://127.0.0.1:{port}"
    wait_for_port(port, proc)
    return proc


def log_of(proc):
    with open(proc.log_path) as f:
        return f.read()


def printed_code(proc):
    return wait_until(lambda: (CODE.search(log_of(proc)) or [None, None])[1], message="the set-up code in the log")


def test_web_listens_on_loopback_unless_told_otherwise(processes, app):
    local = start_web(processes)
    assert wait_until(lambda: re.search(r"Listening at: http://127\.0\.0\.1:\d+", log_of(local)))
    exposed = start_web(processes, PAGESITE_BIND="0.0.0.0")
    assert wait_until(lambda: re.search(r"Listening at: http://0\.0\.0\.0:\d+", log_of(exposed)))


def test_setup_needs_the_printed_code_and_shows_every_error_at_once(processes, app, browser):
    web = start_web(processes)
    code = printed_code(web)
    assert f"{web.url}/setup" in log_of(web)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(web.url + "/compose")
        expect(page).to_have_url(web.url + "/setup")

        # Everything wrong at once: no code, a bad email, a short password that does not match.
        page.get_by_label("Email").fill("not an email")
        page.get_by_label("Password", exact=True).fill("short")
        page.get_by_label("Repeat the password").fill("shorter")
        page.get_by_role("button", name="Create account").click()
        summary = page.get_by_role("alert")
        expect(summary).to_be_focused()
        expect(summary.get_by_role("listitem")).to_have_text([
            re.compile("not the set-up code"), "Enter a valid email address.",
            "Use at least 12 characters.", "The two passwords differ."])
        expect(page.get_by_label("Set-up code")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Email")).to_have_value("not an email")

        page.get_by_label("Set-up code").fill(code)
        page.get_by_label("Email").fill("first@example.com")
        page.get_by_label("Password", exact=True).fill("a long enough secret")
        page.get_by_label("Repeat the password").fill("a long enough secret")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_text("Your account is ready")).to_be_visible()
        expect(page).to_have_url(web.url + "/compose")
    finally:
        context.close()
