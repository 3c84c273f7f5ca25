"""The chat in a real Chromium: two people in the Lobby, a friend request answered
from the bell, a private chat both ways, hostile text shown as text, and a
server restart in the middle of a conversation."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Locator, Page, expect

from tests.browser.support import (
    PHONE,
    BrowserUser,
    LiveServer,
    PageProblems,
    UserFactory,
    api,
)
from tests.e2e.client import PASSWORD

PAYLOADS = (
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned = 1">',
    '"><svg onload=alert(1)>',
    "<b>bold?</b> &amp; <i>not</i>",
    "javascript:alert(1)",
)


def composer(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Message")


def connected(page: Page) -> None:
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "connected")


def say(page: Page, text: str) -> None:
    """Put a message in the composer and send it with Enter."""
    composer(page).fill(text)
    composer(page).press("Enter")


def bodies(page: Page) -> list[str]:
    return page.locator("#messages .body").all_text_contents()


def seqs(page: Page) -> list[int]:
    return page.eval_on_selector_all("#messages li[data-seq]", "l => l.map(e => +e.dataset.seq)")


def message(page: Page, text: str) -> Locator:
    return page.locator("#messages .body", has_text=text)


def mark() -> str:
    return uuid.uuid4().hex[:6]


def open_lobby(*users: BrowserUser) -> None:
    for user in users:
        user.page.goto("/")
    for user in users:
        connected(user.page)


def test_two_people_chat_in_the_lobby(browser_user: UserFactory) -> None:
    alice, bob = browser_user(), browser_user(viewport=PHONE)
    open_lobby(alice, bob)
    expect(alice.page.locator("#online-count")).to_have_text(re.compile(r"^[2-9]\d* online$"))
    tag = mark()

    box = composer(alice.page)
    box.press_sequentially(f"hello bob {tag}")
    box.press("Shift+Enter")  # a new line, not a send
    box.press_sequentially("second line")
    box.press("Enter")
    mine = alice.page.locator("#messages li", has_text=f"hello bob {tag}")
    expect(mine).to_have_attribute("data-state", "sent")
    expect(message(bob.page, f"hello bob {tag}")).to_have_text(f"hello bob {tag}\nsecond line")
    expect(composer(alice.page)).to_have_value("")

    composer(bob.page).press_sequentially(f"typed {tag}")
    expect(alice.page.locator("#typing")).to_have_text(f"{bob.username} is typing…")
    composer(bob.page).press("Enter")
    expect(message(alice.page, f"typed {tag}")).to_have_count(1)
    expect(alice.page.locator("#typing")).to_have_text("")
    # New messages are announced to screen readers.
    expect(alice.page.locator("#announcer[aria-live]")).to_have_text(f"{bob.username}: typed {tag}")

    for page in (alice.page, bob.page):
        seqs = page.eval_on_selector_all(
            "#messages li[data-seq]", "l => l.map(e => +e.dataset.seq)"
        )
        assert seqs == sorted(set(seqs))
    assert bodies(alice.page)[-2:] == bodies(bob.page)[-2:]


def test_history_loads_as_you_scroll_up(browser_user: UserFactory) -> None:
    alice, bob = browser_user(), browser_user()
    open_lobby(alice)
    tag = mark()
    # 60 sends at once: past the burst of 20 the server answers rate_limited and
    # the client sends again later, so this also shows retried sends land once.
    alice.page.evaluate(
        """([room, tag]) => {
            for (let i = 0; i < 60; i++) window.chatapp.socket.send(room, `${tag} ${i}`);
        }""",
        [lobby_id(alice), tag],
    )
    expect(message(alice.page, f"{tag} 59")).to_have_count(1, timeout=30_000)
    expect(alice.page.locator('#messages [data-state="pending"]')).to_have_count(0)

    bob.page.goto("/")
    connected(bob.page)
    expect(bob.page.locator("#messages li")).to_have_count(50)
    status = bob.page.locator("#history-status")
    for _ in range(30):
        if status.text_content() == "The beginning of this conversation":
            break
        bob.page.locator("#scroller").evaluate("node => { node.scrollTop = 0; }")
        bob.page.wait_for_timeout(200)
    expect(status).to_have_text("The beginning of this conversation")
    seqs = bob.page.eval_on_selector_all(
        "#messages li[data-seq]", "l => l.map(e => +e.dataset.seq)"
    )
    last_seq = lobby_room(bob)["last_seq"]
    assert seqs == list(range(1, last_seq + 1))
    ours = [text for text in bodies(bob.page) if text.startswith(tag)]
    assert ours == [f"{tag} {i}" for i in range(60)]


def lobby_room(user: BrowserUser) -> dict:
    response = user.context.request.get("/api/rooms")
    return next(room for room in response.json()["results"] if room["kind"] == "public")


def lobby_id(user: BrowserUser) -> int:
    return int(lobby_room(user)["id"])


def test_friend_request_bell_and_private_chat(browser_user: UserFactory) -> None:
    alice, bob = browser_user(), browser_user()
    open_lobby(alice, bob)
    bell = bob.page.locator("#bell")
    expect(bob.page.locator("#bell-badge")).to_be_hidden()

    alice.page.get_by_role("searchbox", name="Find people").fill(bob.username)
    alice.page.get_by_role("searchbox", name="Find people").press("Enter")
    alice.page.get_by_role("button", name="Add friend").click()

    # Bob's badge goes up without a reload; he accepts from the dropdown.
    expect(bob.page.locator("#bell-badge")).to_have_text("1")
    expect(bell).to_have_accessible_name("Notifications, 1 unread")
    bell.click()
    expect(bell).to_have_attribute("aria-expanded", "true")
    bob.page.get_by_role("button", name=f"Accept friend request from {alice.username}").click()
    expect(bob.page.locator("#bell-panel")).to_contain_text("are now friends")
    expect(bob.page.locator("#bell-badge")).to_be_hidden()  # opening the bell read it
    bob.page.keyboard.press("Escape")
    expect(bob.page.locator("#bell-panel")).to_be_hidden()

    # The private room appears in both room lists, live.
    bob_link = bob.page.locator("#room-list a", has_text=alice.username)
    expect(bob_link).to_have_count(1)
    alice.page.goto("/")
    alice_link = alice.page.locator("#room-list a", has_text=bob.username)
    expect(alice_link).to_have_count(1)
    connected(alice.page)

    bob_link.click()
    connected(bob.page)
    tag = mark()
    say(bob.page, f"hi alice {tag}")
    # Alice, in the Lobby, gets the notification and the room's unread badge.
    expect(alice_link.locator(".badge")).to_have_text("1")
    expect(alice_link.locator(".room-last")).to_have_text(f"{bob.username}: hi alice {tag}")
    expect(alice.page.locator("#bell-badge")).to_have_text("2")  # accepted + message
    alice_link.click()
    expect(message(alice.page, f"hi alice {tag}")).to_have_count(1)
    connected(alice.page)
    # Reading the room clears its private_message notification, live.
    expect(alice.page.locator("#bell-badge")).to_have_text("1")
    say(alice.page, f"hi bob {tag}")
    expect(message(bob.page, f"hi bob {tag}")).to_have_count(1)
    assert bodies(alice.page) == bodies(bob.page) == [f"hi alice {tag}", f"hi bob {tag}"]


def befriend(a: BrowserUser, b: BrowserUser, base: str) -> int:
    """Make two users friends through the API; the id of their private room."""
    me = a.context.request.get("/api/me").json()
    them = b.context.request.get("/api/me").json()
    sent = api(a.context, base, "POST", "/api/friend-requests", {"to": them["id"]})
    assert sent.status == 201, sent.text()
    accepted = api(b.context, base, "POST", f"/api/friend-requests/{sent.json()['id']}/accept")
    assert accepted.status == 200, accepted.text()
    room = api(a.context, base, "POST", "/api/rooms/private", {"user": them["id"]})
    assert room.status == 200 and room.json()["peer"]["id"] == them["id"] != me["id"]
    return int(room.json()["id"])


def assert_shown_as_text(page: Page, payloads: tuple[str, ...]) -> None:
    for payload in payloads:
        expect(page.locator("#messages .body", has_text=payload).first).to_have_text(payload)
    assert page.locator("#messages .body :is(script, img, svg, b, i)").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_hostile_text_shows_as_text(browser_user: UserFactory, chat_server: LiveServer) -> None:
    alice, bob = browser_user(), browser_user()
    room = befriend(alice, bob, chat_server.base)
    open_lobby(alice, bob)
    for payload in PAYLOADS:
        say(alice.page, payload)
    assert_shown_as_text(bob.page, PAYLOADS)
    assert_shown_as_text(alice.page, PAYLOADS)

    # The same in the private chat, and so in the notification Bob gets for it.
    alice.page.goto(f"/chat/{room}/")
    connected(alice.page)
    for payload in PAYLOADS:
        say(alice.page, payload)
    expect(alice.page.locator('#messages [data-state="sent"]')).to_have_count(len(PAYLOADS))
    # His friend request, then one private_message notification for the room.
    expect(bob.page.locator("#bell-badge")).to_have_text("2")
    bob.page.locator("#bell").click()
    note = bob.page.locator("#bell-list a").first
    expect(note).to_have_text(f"{alice.username}: {PAYLOADS[-1]}")
    note.click()
    connected(bob.page)
    assert_shown_as_text(bob.page, PAYLOADS)
    # A page reload renders the stored messages (server side, then by script) as text too.
    bob.page.reload()
    connected(bob.page)
    assert_shown_as_text(bob.page, PAYLOADS)


def test_links_are_safe(browser_user: UserFactory) -> None:
    alice = browser_user()
    open_lobby(alice)
    tag = mark()
    say(alice.page, f"{tag} see https://example.com/a?b=1&c=2. or javascript:alert(1)")
    body = message(alice.page, tag)
    link = body.get_by_role("link")
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", "https://example.com/a?b=1&c=2")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(body).to_have_text(f"{tag} see https://example.com/a?b=1&c=2. or javascript:alert(1)")


def test_a_restart_loses_nothing_and_repeats_nothing(
    browser_user: UserFactory, chat_server: LiveServer, page_problems: PageProblems
) -> None:
    page_problems.allow_server_down()
    alice, bob = browser_user(), browser_user()
    open_lobby(alice, bob)
    tag = mark()
    say(alice.page, f"{tag} before")
    expect(message(bob.page, f"{tag} before")).to_have_count(1)

    chat_server.stop()
    for page in (alice.page, bob.page):
        expect(page.locator("#conn-status")).to_have_attribute("data-state", "reconnecting")
        expect(page.locator("#conn-status")).to_have_text("Reconnecting…")
    say(alice.page, f"{tag} while down")
    expect(alice.page.locator("#messages li", has_text=f"{tag} while down")).to_have_attribute(
        "data-state", "pending"
    )
    chat_server.start()

    for page in (alice.page, bob.page):
        expect(page.locator("#conn-status")).to_have_attribute(
            "data-state", "connected", timeout=30_000
        )
    expect(message(bob.page, f"{tag} while down")).to_have_count(1, timeout=15_000)
    say(bob.page, f"{tag} after")
    expect(message(alice.page, f"{tag} after")).to_have_count(1)
    expected = [f"{tag} before", f"{tag} while down", f"{tag} after"]
    for page in (alice.page, bob.page):
        expect(page.locator('#messages [data-state="pending"]')).to_have_count(0)
        assert [text for text in bodies(page) if text.startswith(tag)] == expected
        page.reload()
        connected(page)
        assert [text for text in bodies(page) if text.startswith(tag)] == expected


def test_logging_out_in_one_tab_sends_the_others_to_login(browser_user: UserFactory) -> None:
    alice = browser_user()
    other_tab = alice.context.new_page()
    open_lobby(alice)
    other_tab.goto("/")
    connected(other_tab)
    alice.page.goto(f"/accounts/u/{alice.username}/")
    alice.page.get_by_role("button", name="Log out").first.click()
    expect(other_tab).to_have_url(re.compile(r"/accounts/login/\?next=(/|%2F)"), timeout=10_000)


def test_a_password_change_keeps_the_other_tabs_of_that_browser_connected(
    browser_user: UserFactory,
) -> None:
    alice = browser_user()
    other_tab = alice.context.new_page()
    open_lobby(alice)
    other_tab.goto("/")
    connected(other_tab)
    new_password = "a brand new passphrase 42"
    page = alice.page
    page.goto("/accounts/password/change/")
    page.get_by_label("Old password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("New password confirmation").fill(new_password)
    # The other tab's socket is closed with 4401 (its session key is gone) and
    # comes back with the session the browser has now.
    with other_tab.expect_websocket(timeout=10_000):
        page.get_by_role("button", name="Change password").click()
    expect(page).to_have_url(re.compile(r"/accounts/password/change/done/"))
    connected(other_tab)
    assert "/accounts/login/" not in other_tab.url
    tag = mark()
    say(other_tab, tag)
    expect(other_tab.locator("#messages li", has_text=tag)).to_have_attribute("data-state", "sent")


def test_avatar_preview_before_saving(browser_user: UserFactory) -> None:
    alice = browser_user()
    alice.page.goto("/accounts/profile/")
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db40000000049454e44ae426082"
    )
    alice.page.get_by_label("Avatar").set_input_files(
        {"name": "me.png", "mimeType": "image/png", "buffer": png}
    )
    preview = alice.page.locator("#avatar-preview")
    expect(preview).to_have_attribute("src", re.compile(r"^blob:"))
    expect(preview).to_have_attribute("alt", "Preview of your new avatar")


def test_offline_and_back(browser_user: UserFactory, page_problems: PageProblems) -> None:
    page_problems.allow_server_down()
    alice, bob = browser_user(), browser_user()
    open_lobby(alice, bob)
    status = alice.page.locator("#conn-status")
    alice.context.set_offline(True)
    expect(status).to_have_attribute("data-state", "offline")
    expect(status).to_have_text("Offline")
    tag = mark()
    say(alice.page, f"{tag} written offline")
    alice.context.set_offline(False)
    expect(status).to_have_attribute("data-state", "connected", timeout=15_000)
    expect(message(bob.page, f"{tag} written offline")).to_have_count(1)
    say(alice.page, f"{tag} after")
    expect(message(bob.page, f"{tag} after")).to_have_count(1)
    expect(alice.page.locator('#messages [data-state="pending"]')).to_have_count(0)


def test_search_suggests_people_and_sends_a_request(browser_user: UserFactory) -> None:
    alice, bob = browser_user(), browser_user()
    open_lobby(alice, bob)
    search = alice.page.get_by_role("searchbox", name="Find people")
    search.press_sequentially(bob.username[:-2])
    suggestions = alice.page.locator("#search-results")
    expect(search).to_have_attribute("aria-expanded", "true")
    expect(suggestions.get_by_role("link", name=bob.username)).to_be_visible()
    suggestions.get_by_role("button", name=f"Send a friend request to {bob.username}").click()
    expect(suggestions).to_contain_text("Request sent")
    expect(bob.page.locator("#bell-badge")).to_have_text("1")
    search.press("Escape")
    expect(suggestions).to_be_hidden()


def test_the_requests_page_is_live(browser_user: UserFactory, chat_server: LiveServer) -> None:
    alice, bob = browser_user(), browser_user()
    bob.page.goto("/friends/requests/")
    connected(bob.page)
    bob_id = bob.context.request.get("/api/me").json()["id"]
    sent = api(alice.context, chat_server.base, "POST", "/api/friend-requests", {"to": bob_id})
    assert sent.status == 201
    alice.page.goto("/friends/requests/")
    connected(alice.page)
    outgoing = alice.page.locator("#requests-outgoing")
    expect(outgoing.get_by_role("link", name=bob.username)).to_be_visible()

    # Bob's page shows the request without a reload; he accepts it in place.
    incoming = bob.page.locator("#requests-incoming")
    expect(incoming.get_by_role("link", name=alice.username)).to_be_visible()
    incoming.get_by_role("button", name=f"Accept the request from {alice.username}").click()
    expect(bob.page.locator("#requests-status")).to_have_text(
        f"You and {alice.username} are now friends."
    )
    expect(incoming).to_have_text("None.")
    # Alice's page drops the accepted request by itself.
    expect(outgoing).to_have_text("None.")
