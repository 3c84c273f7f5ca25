"""Smoke tests: the main pages load in a real Chromium without a console error,
under a Content-Security-Policy that forbids inline scripts."""

from __future__ import annotations

import re

from playwright.sync_api import Page, Response, expect

from tests.browser.support import LiveServer, UserFactory
from tests.e2e.client import PASSWORD


def script_sources(csp: str) -> list[str]:
    """The sources allowed for scripts: script-src, else default-src (CSP 3 fallback)."""
    directives = {
        name.lower(): values
        for name, *values in (part.split() for part in csp.split(";") if part.strip())
    }
    return directives.get("script-src", directives.get("default-src", []))


def assert_strict_csp(response: Response | None) -> None:
    assert response is not None
    assert response.ok, response.status
    csp = response.headers.get("content-security-policy", "")
    sources = script_sources(csp)
    assert sources, f"no script-src or default-src in {csp!r}"
    assert "'unsafe-inline'" not in sources, csp
    assert "'unsafe-eval'" not in sources, csp


def settle(page: Page) -> None:
    """Wait until the page's scripts have done their first round of fetching."""
    page.wait_for_load_state("networkidle")


def test_script_sources_reads_the_policy() -> None:
    assert script_sources("default-src 'self'; script-src 'self' 'unsafe-inline'") == [
        "'self'",
        "'unsafe-inline'",
    ]
    assert script_sources("default-src 'none'") == ["'none'"]


def test_login_page(anon_page: Page) -> None:
    assert_strict_csp(anon_page.goto("/accounts/login/"))
    settle(anon_page)
    expect(anon_page.locator("main")).to_have_count(1)
    expect(anon_page.get_by_label("Password", exact=True)).to_be_visible()


def test_register_page(anon_page: Page) -> None:
    assert_strict_csp(anon_page.goto("/accounts/register/"))
    settle(anon_page)
    expect(anon_page.locator("main")).to_have_count(1)
    expect(anon_page.get_by_label("Password", exact=True)).to_be_visible()
    expect(anon_page.get_by_label(re.compile("^username", re.IGNORECASE))).to_be_visible()


def test_home_when_logged_in(browser_user: UserFactory) -> None:
    user = browser_user()
    assert_strict_csp(user.page.goto("/"))
    settle(user.page)
    expect(user.page.locator("main")).to_have_count(1)
    expect(user.page.get_by_text(user.username).first).to_be_visible()


def test_logging_in_through_the_form(browser_user: UserFactory, anon_page: Page) -> None:
    username = browser_user().username
    anon_page.goto("/accounts/login/")
    anon_page.get_by_label(re.compile("username", re.IGNORECASE)).fill(username)
    anon_page.get_by_label("Password", exact=True).fill(PASSWORD)
    anon_page.get_by_label("Password", exact=True).press("Enter")
    expect(anon_page).to_have_url(re.compile(r"/$"))
    settle(anon_page)
    expect(anon_page.locator("main")).to_have_count(1)


def test_server_restarts_on_the_same_port(chat_server: LiveServer, anon_page: Page) -> None:
    base = chat_server.base
    chat_server.restart()
    assert chat_server.base == base
    assert_strict_csp(anon_page.goto("/accounts/login/"))
