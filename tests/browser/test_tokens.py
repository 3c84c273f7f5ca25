"""The API tokens page in a real Chromium: made, copied, used, revoked."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browser.support import LiveServer, UserFactory
from tests.browser.test_accessibility import check


def test_a_token_is_made_copied_used_and_revoked(
    browser_user: UserFactory, chat_server: LiveServer
) -> None:
    alice = browser_user()
    alice.context.grant_permissions(["clipboard-read", "clipboard-write"])
    alice.page.goto(f"/accounts/u/{alice.username}/")
    alice.page.get_by_role("link", name="API tokens").click()
    alice.page.get_by_label("Name").fill("my bot")
    alice.page.get_by_role("button", name="Create token").click()
    shown = alice.page.get_by_label("New token")
    token = shown.input_value()
    assert token.startswith("chat_")
    check(alice.page)
    alice.page.get_by_role("button", name="Copy").click()
    expect(alice.page.get_by_role("button", name="Copied")).to_be_visible()
    assert alice.page.evaluate("navigator.clipboard.readText()") == token

    auth = {"Authorization": f"Bearer {token}"}
    me = httpx.get(f"{chat_server.base}/api/me", headers=auth)
    assert me.json()["username"] == alice.username

    alice.page.goto("/tokens/")
    expect(alice.page.get_by_label("New token")).to_have_count(0)  # shown once
    alice.page.get_by_role("button", name="Revoke my bot").click()
    expect(alice.page.get_by_text("No tokens yet.")).to_be_visible()
    assert httpx.get(f"{chat_server.base}/api/me", headers=auth).status_code == 401
