"""Browser fixtures: a real Chromium driven by Playwright against a real gunicorn.

Every test reaches the site through the ``site`` fixture, which signs in; a
change to how people sign in is made here and nowhere else. The web process
is gunicorn as the Procfile starts it, one per test module (one per set of
settings a module asks for in ``site_env``), kept from test to test: each test
still begins with empty tables and an empty Redis (``clean_state``), and a
test that stops the server gets a new one for the next.
"""

import os
import shutil
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from conftest import OWNER_EMAIL, OWNER_PASSWORD, ROOT, Processes

SCREENSHOTS = os.path.join(ROOT, "test-artifacts", "screenshots")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
DEFAULT_TIMEZONE = "America/New_York"
TIMEOUT_MS = 20_000
# Assertions wait for their condition as long as actions do (Playwright's own
# default is 5 s, which a busy machine's server responses can outlast: the
# suite runs its tests in parallel processes on two cores).
expect.set_options(timeout=TIMEOUT_MS)


def _chromium_path():
    path = os.environ.get("PAGESITE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail(
            "The browser tests need Chromium and none was found on PATH. Install it "
            "('apt-get install chromium', or 'make browser'), or set PAGESITE_CHROMIUM to its path.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    path = _chromium_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Site:
    """The running site and signed-in browser pages on it."""

    def __init__(self, browser, web):
        self.browser = browser
        self.web = web
        self.url = web.url
        self.contexts = []
        self._page = None

    def open(self, timezone_id=DEFAULT_TIMEZONE, viewport=None, path="/compose"):
        """A new signed-in page (its own browser context) showing ``path``."""
        options = {"timezone_id": timezone_id, "locale": "en-US"}
        if viewport:
            options["viewport"] = viewport
        context = self.browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.goto(self.url + "/signin")
        page.get_by_label("Email").fill(OWNER_EMAIL)
        page.get_by_label("Password").fill(OWNER_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        try:
            page.wait_for_url(self.url + "/compose")
        except Exception:
            raise AssertionError(f"sign-in did not lead to /compose; at {page.url}:\n{page.inner_text('body')[:1000]}")
        if path != "/compose":
            self.goto(path, page)
        return page

    @property
    def page(self):
        if self._page is None:
            self._page = self.open()
        return self._page

    def goto(self, path, page=None):
        page = page or self.page
        page.goto(self.url + path)
        return page

    def screenshot(self, name, page=None):
        os.makedirs(SCREENSHOTS, exist_ok=True)
        # A whole long page (the API reference) takes Chromium seconds to paint on a busy machine.
        (page or self.page).screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True,
                                       timeout=4 * TIMEOUT_MS)

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def site_env():
    """Extra environment for the web process; a module or test overrides this fixture to change
    settings (a module-scoped one keeps one server for the whole module)."""
    return {}


def wait_until_serving(url, timeout=60):
    """The port opens before a worker has booted; on a busy machine booting takes seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/signin", timeout=timeout) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


class WebServers:
    """A module's web processes: one per set of settings, started when first asked for."""

    def __init__(self, processes):
        self.processes = processes
        self.running = {}

    def get(self, env):
        key = tuple(sorted(env.items()))
        web = self.running.get(key)
        if web is None or web.poll() is not None:  # not started yet, or a test stopped it
            web = self.running[key] = self.processes.web(env=dict(env))
            wait_until_serving(web.url)
        return web


@pytest.fixture(scope="module")
def web_servers(app, test_env, tmp_path_factory):
    servers = WebServers(Processes(test_env, str(tmp_path_factory.mktemp("web"))))
    yield servers
    servers.processes.stop_all()


@pytest.fixture
def web(web_servers, site_env, request):
    """The module's running web process for this test's ``site_env`` (nobody signed in)."""
    web = web_servers.get(site_env)
    yield web
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        print(web_servers.processes.logs())


@pytest.fixture
def site(browser, web, user):
    site = Site(browser, web)
    yield site
    site.close()


@pytest.fixture
def workers(processes):
    """A scheduler and a worker, so schedules really get published."""
    processes.scheduler()
    processes.worker()
    return processes
