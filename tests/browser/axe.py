"""Accessibility checks with axe-core (vendored from npm under tests/vendor/axe-core)."""

import hashlib
import json
import os

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from conftest import ROOT

REPORTS = os.path.join(ROOT, "test-artifacts", "axe")
SCREENSHOTS = os.path.join(ROOT, "test-artifacts", "screenshots")
AXE_PATH = os.path.join(ROOT, "tests", "vendor", "axe-core", "axe.min.js")
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"  # axe-core 4.14.1
BLOCKING = ("serious", "critical")
_source = []


def _axe_source():
    if not _source:
        with open(AXE_PATH, "rb") as f:
            data = f.read()
        digest = hashlib.sha256(data).hexdigest()
        assert digest == AXE_SHA256, f"{AXE_PATH} is not the vendored axe-core 4.14.1 (sha256 {digest})"
        _source.append(data.decode())
    return _source[0]


def violations(page):
    """axe-core's violations on the page as it is now (all impacts)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's CSP (no inline script) stays as it is.
        page.evaluate(_axe_source() + "\n;true")
    return page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').replace(/\\s+/g, ' '))
        }));
    }""")


def describe(found):
    lines = []
    for v in found:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({len(v['nodes'])} nodes)")
        lines += [f"    {node[:300]}" for node in v["nodes"][:5]]
    return "\n".join(lines)


def assert_accessible(page, name):
    """Fail on any serious or critical axe-core violation; save a screenshot either way."""
    os.makedirs(SCREENSHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SCREENSHOTS, f"axe-{name}.png"), full_page=True)
    found = violations(page)
    os.makedirs(REPORTS, exist_ok=True)
    with open(os.path.join(REPORTS, f"{name}.json"), "w") as f:
        json.dump(found, f, indent=1)  # every impact, for reading later
    blocking = [v for v in found if v["impact"] in BLOCKING]
    assert not blocking, f"axe-core on {name}: serious or critical violations\n{describe(blocking)}"
    return found


def assert_no_sideways_scroll(page):
    """The page fits its width (WCAG 1.4.10, reflow) once its layout has settled (waited for, a few
    seconds at most); otherwise the elements that stick out, named."""
    try:
        # A function, not an expression: Playwright evaluates a bare expression with eval, which the CSP forbids.
        page.wait_for_function("() => document.documentElement.scrollWidth <= window.innerWidth", timeout=3000)
    except PlaywrightTimeout:  # still too wide: say what
        pass
    wider = page.evaluate("""() => document.documentElement.scrollWidth <= window.innerWidth ? [] :
        [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 8)
            .map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className ? '.' + e.className : ''}`
                      + ` (right edge ${Math.round(e.getBoundingClientRect().right)} px)`)""")
    assert not wider, f"{page.url} scrolls sideways at {page.viewport_size['width']} px: " + ", ".join(wider)
