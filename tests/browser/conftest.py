"""Fixtures for browser tests: Debian's Chromium driven by Playwright's sync API
against a real ``chatapp serve`` process.

Write browser tests as plain ``def`` functions (the sync API refuses to run
inside an event loop, and ``async def`` tests run in one)::

    def test_lobby(browser_user: UserFactory, chat_server: LiveServer) -> None:
        alice = browser_user()
        alice.page.goto("/")              # contexts have base_url=chat_server.base
        expect(alice.page.locator("main")).to_be_visible()

Playwright's sync API keeps an event loop running in this thread, so Django's
ORM (and pytest-django's ``db``) cannot be used here: arrange data through the
API (``support.api``) or the pages themselves.

Every context made by ``browser_user`` or ``anon_page`` is watched: a console
error, an uncaught exception or a dialog fails the test at teardown, unless the
test allowed it with ``page_problems.allow(...)`` / ``allow_server_down()``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, sync_playwright

from tests.browser.support import (
    BrowserUser,
    LiveServer,
    PageProblems,
    UserFactory,
    chromium_path,
    fresh_database,
    launch_chromium,
    new_user,
)
from tests.conftest import ON_CI


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    path = chromium_path()
    if not Path(path).is_file():
        message = f"no Chromium at {path} (apt-get install chromium, or set CHROMIUM)"
        if ON_CI:
            pytest.fail(f"CI=true but {message}", pytrace=False)
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One headless Chromium for the whole package; each test gets its own contexts."""
    chromium = launch_chromium(playwright)
    yield chromium
    chromium.close()


@pytest.fixture(scope="package")
def _chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    admin_url = os.environ.get("DATABASE_URL", "")
    if not admin_url:
        # On CI tests/conftest.py has already failed the run without DATABASE_URL.
        pytest.skip("DATABASE_URL is not set (CI always sets it)")
    folder = tmp_path_factory.mktemp("chat_server")
    with fresh_database(admin_url) as database_url:
        server = LiveServer.in_folder(folder, database_url)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def chat_server(_chat_server: LiveServer) -> LiveServer:
    """Not ``live_server``: pytest-django owns that name and would set up its test
    database (synchronously, inside Playwright's running loop) for any test using it.

    The package's running server, on a fresh database of DATABASE_URL (with
    REDIS_URL's Redis when set). ``chat_server.restart()`` stops it by PID and
    starts it again on the same port; ``stop()``/``start()`` separately to keep it
    down for a while. A test that leaves it down gets it started for the next."""
    _chat_server.start()
    return _chat_server


@pytest.fixture
def page_problems() -> Iterator[PageProblems]:
    """Collects console errors, page errors and dialogs of watched contexts and
    fails the test at teardown if any occurred."""
    problems = PageProblems()
    yield problems
    if problems.problems:
        pytest.fail("the browser reported:\n  " + "\n  ".join(problems.problems), pytrace=False)


@pytest.fixture
def browser_user(
    browser: Browser, chat_server: LiveServer, page_problems: PageProblems
) -> Iterator[UserFactory]:
    """``browser_user(username=None, viewport=None) -> BrowserUser(context, page,
    username)``: a newly registered user in a fresh context (closed at teardown)."""
    contexts = []

    def make(*, username: str | None = None, viewport: ViewportSize | None = None) -> BrowserUser:
        user = new_user(browser, chat_server.base, username=username, viewport=viewport)
        contexts.append(user.context)
        page_problems.watch(user.context)
        return user

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def anon_page(
    browser: Browser, chat_server: LiveServer, page_problems: PageProblems
) -> Iterator[Page]:
    """A page in a fresh context with nobody logged in."""
    context = browser.new_context(base_url=chat_server.base)
    page_problems.watch(context)
    yield context.new_page()
    context.close()
