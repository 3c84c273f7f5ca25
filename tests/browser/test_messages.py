"""Messages v2 in a real Chromium: edits, deletes, reactions and replies seen
live by another browser, the message menu from mouse, keyboard and touch,
catching up on changes after a reconnect, and changes made offline replayed."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.support import (
    PHONE,
    LiveServer,
    PageProblems,
    UserFactory,
    api,
    fresh_database,
    new_user,
)
from tests.browser.test_chat import (
    befriend,
    composer,
    connected,
    lobby_id,
    mark,
    open_lobby,
    say,
)


def item(page: Page, text: str) -> Locator:
    """The <li> of the message whose body or quote holds ``text``."""
    return page.locator("#messages li.message", has=page.locator(".body", has_text=text))


def menu_action(page: Page, text: str, action: str) -> None:
    """Open a message's menu with the mouse (hover shows its button) and choose."""
    target = item(page, text)
    target.hover()
    target.get_by_role("button", name="Message actions").click()
    page.get_by_role("menuitem", name=action).click()


def react_with(page: Page, text: str, search: str, emoji_name: str) -> None:
    menu_action(page, text, "React…")
    page.get_by_role("searchbox", name="Search emoji").fill(search)
    page.locator("#emoji-picker").get_by_role("button", name=emoji_name).click()


def chip(page: Page, text: str, emoji: str) -> Locator:
    return item(page, text).locator(f'button.reaction[data-emoji="{emoji}"]')


def edit_via_menu(page: Page, text: str, new_body: str) -> None:
    menu_action(page, text, "Edit")
    box = page.get_by_role("textbox", name="Edit your message")
    expect(box).to_be_focused()
    box.fill(new_body)
    box.press("Enter")


def sent(page: Page, text: str) -> Locator:
    target = item(page, text)
    expect(target).to_have_attribute("data-state", "sent")
    return target


def no_changes_queued(page: Page, timeout: float = 10_000) -> None:
    """Wait until the socket has no change the server has not handled (the
    page's CSP refuses the eval that ``wait_for_function`` polls with)."""
    deadline = time.monotonic() + timeout / 1000
    while page.evaluate("window.chatapp.socket.changes.size") != 0:
        if time.monotonic() > deadline:
            raise AssertionError("changes still queued after the timeout")
        page.wait_for_timeout(100)


def test_edit_react_and_delete_show_live_to_the_other_browser(browser_user: UserFactory) -> None:
    alice, bob = browser_user(), browser_user()
    open_lobby(alice, bob)
    tag = mark()
    say(alice.page, f"{tag} helo")
    sent(alice.page, f"{tag} helo")
    expect(item(bob.page, f"{tag} helo")).to_have_count(1)

    edit_via_menu(alice.page, f"{tag} helo", f"{tag} hello everyone")
    on_bob = item(bob.page, f"{tag} hello everyone")
    expect(on_bob.locator(".body")).to_have_text(f"{tag} hello everyone")
    edited = on_bob.locator(".edited")
    expect(edited).to_be_visible()
    expect(edited).to_have_text("(edited)")
    expect(edited).to_have_attribute("title", re.compile(r"^Edited \S"))
    expect(item(alice.page, f"{tag} hello everyone").locator(".state")).to_have_text("")

    react_with(bob.page, f"{tag} hello", "thumbs up", re.compile(r"^thumbs up"))
    for page, pressed in ((bob.page, "true"), (alice.page, "false")):
        expect(chip(page, tag, "👍")).to_have_text("👍 1")
        expect(chip(page, tag, "👍")).to_have_attribute("aria-pressed", pressed)
    chip(alice.page, tag, "👍").click()  # a chip toggles: Alice joins
    expect(chip(bob.page, tag, "👍")).to_have_text("👍 2")
    expect(chip(alice.page, tag, "👍")).to_have_attribute("aria-pressed", "true")
    chip(bob.page, tag, "👍").click()  # Bob takes his back
    expect(chip(alice.page, tag, "👍")).to_have_text("👍 1")
    expect(chip(bob.page, tag, "👍")).to_have_attribute("aria-pressed", "false")

    # Deleting asks first; Cancel keeps the message.
    menu_action(alice.page, tag, "Delete…")
    dialog = alice.page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete this message for everyone?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(item(bob.page, f"{tag} hello everyone")).to_have_count(1)
    menu_action(alice.page, tag, "Delete…")
    alice.page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    gone = bob.page.locator("#messages li.message", has_text="This message was deleted")
    expect(gone).to_have_count(1)
    expect(gone.locator(".reactions")).to_be_hidden()
    expect(gone.locator(".edited")).to_be_hidden()
    assert bob.page.locator("#messages", has_text=f"{tag} hello").count() == 0
    # Someone else's message offers no edit or delete, and a deleted one no menu.
    say(bob.page, f"{tag} bob's")
    target = item(alice.page, f"{tag} bob's")
    target.hover()
    target.get_by_role("button", name="Message actions").click()
    expect(alice.page.get_by_role("menuitem", name="Reply")).to_be_visible()
    expect(alice.page.get_by_role("menuitem", name="Edit")).to_be_hidden()
    expect(alice.page.get_by_role("menuitem", name="Delete…")).to_be_hidden()


def test_a_reconnect_catches_up_on_the_changes_it_missed(
    browser_user: UserFactory, page_problems: PageProblems
) -> None:
    page_problems.allow_server_down()
    alice, bob = browser_user(), browser_user()
    open_lobby(alice, bob)
    tag = mark()
    for n in (1, 2, 3):
        say(alice.page, f"{tag} m{n}")
    expect(item(bob.page, f"{tag} m3")).to_have_count(1)

    bob.context.set_offline(True)
    expect(bob.page.locator("#conn-status")).to_have_attribute("data-state", "offline")
    edit_via_menu(alice.page, f"{tag} m1", f"{tag} m1 fixed")
    react_with(alice.page, f"{tag} m2", "heart", re.compile(r"^red heart"))
    menu_action(alice.page, f"{tag} m3", "Delete…")
    alice.page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    say(alice.page, f"{tag} m4")
    expect(item(alice.page, f"{tag} m4")).to_have_attribute("data-state", "sent")
    expect(chip(alice.page, f"{tag} m2", "❤️")).to_have_text("❤️ 1")

    # Back online: the resume (after_seq and after_rev) brings every change to
    # the messages Bob holds, then the new one, each once.
    bob.context.set_offline(False)
    connected(bob.page)
    expect(item(bob.page, f"{tag} m1 fixed").locator(".edited")).to_be_visible()
    expect(chip(bob.page, f"{tag} m2", "❤️")).to_have_text("❤️ 1")
    expect(item(bob.page, f"{tag} m3")).to_have_count(0)
    expect(item(bob.page, f"{tag} m4")).to_have_count(1)
    texts = bob.page.locator("#messages .body").all_text_contents()
    ours = [text for text in texts if tag in text or text == "This message was deleted"][-4:]
    assert ours == [f"{tag} m1 fixed", f"{tag} m2", "This message was deleted", f"{tag} m4"]
    room = lobby_id(bob)
    seen_rev = bob.page.evaluate(f"window.chatapp.socket.rooms.get({room}).lastRev")
    last_rev = next(
        r["last_rev"]
        for r in bob.context.request.get("/api/rooms").json()["results"]
        if r["id"] == room
    )
    assert seen_rev == last_rev


def test_the_menu_and_editing_from_the_keyboard(browser_user: UserFactory) -> None:
    alice, bob = browser_user(), browser_user()
    open_lobby(alice, bob)
    tag = mark()
    say(alice.page, f"{tag} first")
    sent(alice.page, f"{tag} first")
    page = alice.page

    # Focus the message, Tab to its menu button, open the menu with Enter.
    target = item(page, f"{tag} first")
    target.focus()
    expect(target).to_be_focused()
    page.keyboard.press("Tab")
    button = target.get_by_role("button", name="Message actions")
    expect(button).to_be_focused()
    expect(button).to_have_attribute("aria-haspopup", "menu")
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("menuitem", name="Reply")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("menuitem", name="React…")).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(page.get_by_role("menuitem", name="Delete…")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#message-menu")).to_be_hidden()
    expect(button).to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "false")

    # Up in the empty composer edits my last message; Escape leaves it as it was.
    composer(page).focus()
    page.keyboard.press("ArrowUp")
    box = page.get_by_role("textbox", name="Edit your message")
    expect(box).to_have_value(f"{tag} first")
    box.fill(f"{tag} discarded")
    box.press("Escape")
    expect(box).to_have_count(0)
    expect(target.locator(".body")).to_have_text(f"{tag} first")
    composer(page).focus()
    page.keyboard.press("ArrowUp")
    box.fill(f"{tag} first, edited")
    box.press("Enter")
    expect(item(bob.page, f"{tag} first, edited")).to_have_count(1)

    # A refused edit says why on the message: Bob may not edit Alice's.
    message_id = int(target.get_attribute("data-id") or 0)
    bob.page.evaluate(
        "([room, id]) => window.chatapp.socket.edit(room, id, 'not yours')",
        [lobby_id(bob), message_id],
    )
    on_bob = item(bob.page, f"{tag} first, edited")
    expect(on_bob.locator(".state")).to_have_text(re.compile(r"^Not saved: .*author"))
    expect(on_bob.locator(".state")).to_have_attribute("data-error", "not_author")
    expect(bob.page.locator("#announcer")).to_contain_text("Not saved")
    expect(on_bob.locator(".body")).to_have_text(f"{tag} first, edited")


def test_a_long_press_opens_the_menu_on_a_phone(browser_user: UserFactory) -> None:
    alice = browser_user(viewport=PHONE)
    open_lobby(alice)
    tag = mark()
    say(alice.page, f"{tag} touch me")
    body = sent(alice.page, f"{tag} touch me").locator(".body")
    body.dispatch_event("pointerdown", {"pointerType": "touch", "bubbles": True})
    expect(alice.page.get_by_role("menuitem", name="Reply")).to_be_visible()
    expect(alice.page.get_by_role("menuitem", name="Edit")).to_be_visible()
    # A short tap opens nothing.
    alice.page.keyboard.press("Escape")
    body.dispatch_event("pointerdown", {"pointerType": "touch", "bubbles": True})
    body.dispatch_event("pointerup", {"pointerType": "touch", "bubbles": True})
    alice.page.wait_for_timeout(800)
    expect(alice.page.locator("#message-menu")).to_be_hidden()


def test_changes_made_offline_are_replayed_in_order(
    browser_user: UserFactory, page_problems: PageProblems
) -> None:
    page_problems.allow_server_down()
    alice, bob = browser_user(), browser_user()
    open_lobby(alice, bob)
    tag = mark()
    say(alice.page, f"{tag} one")
    say(alice.page, f"{tag} two")
    sent(alice.page, f"{tag} two")

    alice.context.set_offline(True)
    expect(alice.page.locator("#conn-status")).to_have_attribute("data-state", "offline")
    edit_via_menu(alice.page, f"{tag} one", f"{tag} one v2")
    edit_via_menu(alice.page, f"{tag} one v2", f"{tag} one v3")
    react_with(alice.page, f"{tag} two", "party", re.compile(r"^party popper"))
    react_with(alice.page, f"{tag} two", "rocket", re.compile(r"^rocket"))
    chip(alice.page, f"{tag} two", "🎉").click()  # taken back before anyone saw it
    # Shown at once, marked as not saved yet.
    one = item(alice.page, f"{tag} one v3")
    expect(one.locator(".state")).to_have_text("Saving…")
    expect(chip(alice.page, f"{tag} two", "🚀")).to_have_attribute("aria-pressed", "true")
    expect(chip(alice.page, f"{tag} two", "🎉")).to_have_count(0)
    assert alice.page.evaluate("window.chatapp.socket.changes.size") == 5

    alice.context.set_offline(False)
    connected(alice.page)
    expect(item(bob.page, f"{tag} one v3")).to_have_count(1)
    expect(chip(bob.page, f"{tag} two", "🚀")).to_have_text("🚀 1")
    expect(chip(bob.page, f"{tag} two", "🎉")).to_have_count(0)
    expect(one.locator(".state")).to_have_text("")
    no_changes_queued(alice.page)
    # Bob never saw the intermediate body, and a reload shows the same.
    bob.page.reload()
    connected(bob.page)
    expect(item(bob.page, f"{tag} one v3")).to_have_count(1)
    expect(item(bob.page, f"{tag} one v2")).to_have_count(0)
    expect(chip(bob.page, f"{tag} two", "🚀")).to_have_text("🚀 1")


def test_a_reconnect_in_the_middle_of_edits_and_reactions(
    browser_user: UserFactory, chat_server: LiveServer, page_problems: PageProblems
) -> None:
    """Changes written to a socket that dies before the server answers are
    written again on the next one, in order, and applied once."""
    page_problems.allow_server_down()
    alice, bob = browser_user(), browser_user()
    open_lobby(alice, bob)
    tag = mark()
    say(alice.page, f"{tag} base")
    target = sent(alice.page, f"{tag} base")
    message_id = int(target.get_attribute("data-id") or 0)
    room = lobby_id(alice)
    # Edits and reactions in a row; the server goes down among them and more
    # are made while it is down.
    changes = """([room, id, tag, from, to]) => {
        const s = window.chatapp.socket;
        for (let i = from; i <= to; i++) {
            s.edit(room, id, `${tag} edit ${i}`);
            s.react(room, id, ["👍", "🎉", "🚀", "👀", "🔥"][i - 1], true);
        }
    }"""
    alice.page.evaluate(changes, [room, message_id, tag, 1, 3])
    chat_server.stop()
    alice.page.evaluate(changes, [room, message_id, tag, 4, 5])
    chat_server.start()
    for page in (alice.page, bob.page):
        expect(page.locator("#conn-status")).to_have_attribute(
            "data-state", "connected", timeout=30_000
        )
    no_changes_queued(alice.page, timeout=20_000)
    final = item(bob.page, f"{tag} edit 5")
    expect(final).to_have_count(1)
    expect(final.locator("button.reaction")).to_have_text(["👍 1", "🎉 1", "🚀 1", "👀 1", "🔥 1"])
    stored = api(alice.context, chat_server.base, "GET", f"/api/rooms/{room}/messages").json()
    mine = next(m for m in stored["messages"] if m["id"] == message_id)
    assert mine["body"] == f"{tag} edit 5"
    assert [r["emoji"] for r in mine["reactions"]] == ["👍", "🎉", "🚀", "👀", "🔥"]


def test_a_reply_quotes_its_message_and_jumps_to_it(browser_user: UserFactory) -> None:
    alice, bob = browser_user(), browser_user()
    open_lobby(alice, bob)
    tag = mark()
    say(alice.page, f"{tag} the question")
    sent(alice.page, f"{tag} the question")

    menu_action(bob.page, f"{tag} the question", "Reply")
    bar = bob.page.locator("#reply-bar")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text(f"Replying to {alice.username}: {tag} the question")
    expect(composer(bob.page)).to_be_focused()
    bar.get_by_role("button", name="Cancel the reply").click()
    expect(bar).to_be_hidden()
    menu_action(bob.page, f"{tag} the question", "Reply")
    say(bob.page, f"{tag} the answer")
    expect(bar).to_be_hidden()
    quote = item(alice.page, f"{tag} the answer").locator(".quote")
    expect(quote).to_have_text(f"{alice.username} {tag} the question")
    expect(item(bob.page, f"{tag} the answer")).to_have_attribute("data-state", "sent")

    # Deleting the quoted message empties the quote, live.
    menu_action(alice.page, f"{tag} the question", "Delete…")
    alice.page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(item(bob.page, f"{tag} the answer").locator(".quote")).to_have_text(
        f"{alice.username} deleted"
    )


def test_a_quote_of_a_message_not_on_the_page_loads_the_page_around_it(
    browser_user: UserFactory,
) -> None:
    alice = browser_user()
    open_lobby(alice)
    tag = mark()
    say(alice.page, f"{tag} long ago")
    first = sent(alice.page, f"{tag} long ago")
    first_id = int(first.get_attribute("data-id") or 0)
    room = lobby_id(alice)
    # 60 more, then a reply to the first: a fresh page holds the last 50 only.
    alice.page.evaluate(
        """([room, tag, first]) => {
            const s = window.chatapp.socket;
            for (let i = 0; i < 60; i++) s.send(room, `${tag} filler ${i}`);
            s.send(room, `${tag} replying`, { replyTo: first });
        }""",
        [room, tag, first_id],
    )
    expect(item(alice.page, f"{tag} replying")).to_have_attribute(
        "data-state", "sent", timeout=30_000
    )
    alice.page.reload()
    connected(alice.page)
    expect(item(alice.page, f"{tag} long ago")).to_have_count(0)
    item(alice.page, f"{tag} replying").locator(".quote").click()
    target = item(alice.page, f"{tag} long ago")
    expect(target).to_be_focused()
    expect(target).to_be_in_viewport()
    # Scrolling down pages forward to the latest again, with no gap.
    for _ in range(20):
        if item(alice.page, f"{tag} replying").count():
            break
        alice.page.locator("#scroller").evaluate("n => { n.scrollTop = n.scrollHeight; }")
        alice.page.wait_for_timeout(200)
    expect(item(alice.page, f"{tag} replying")).to_have_count(1)
    seqs = alice.page.eval_on_selector_all(
        "#messages li[data-seq]", "l => l.map(e => +e.dataset.seq)"
    )
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_mentions_complete_and_highlight(browser_user: UserFactory) -> None:
    alice, bob = browser_user(), browser_user()
    open_lobby(alice, bob)
    tag = mark()
    box = composer(alice.page)
    box.press_sequentially(f"{tag} hey @{bob.username[:6]}")
    options = alice.page.get_by_role("listbox", name="People to mention").get_by_role("option")
    expect(options.filter(has_text=bob.username)).to_have_count(1)
    expect(box).to_have_attribute("aria-expanded", "true")
    options.filter(has_text=bob.username).click()
    expect(box).to_have_value(f"{tag} hey @{bob.username} ")
    box.press_sequentially("look")
    box.press("Enter")
    mention = item(bob.page, f"{tag} hey").locator("mark.mention")
    expect(mention).to_have_text(f"@{bob.username}")
    # Only the person mentioned sees it marked.
    expect(item(alice.page, f"{tag} hey")).to_have_attribute("data-state", "sent")
    assert item(alice.page, f"{tag} hey").locator("mark").count() == 0


def test_seen_under_my_last_message_the_friend_read(
    browser_user: UserFactory, chat_server: LiveServer
) -> None:
    alice, bob = browser_user(), browser_user()
    room = befriend(alice, bob, chat_server.base)
    alice.page.goto(f"/chat/{room}/")
    connected(alice.page)
    tag = mark()
    say(alice.page, f"{tag} one")
    say(alice.page, f"{tag} two")
    sent(alice.page, f"{tag} two")
    expect(alice.page.locator(".seen:visible")).to_have_count(0)

    bob.page.goto(f"/chat/{room}/")
    connected(bob.page)
    seen = alice.page.locator(".seen:visible")
    expect(seen).to_have_count(1)  # live, from a read_receipt
    expect(item(alice.page, f"{tag} two").locator(".seen")).to_be_visible()
    expect(bob.page.locator(".seen:visible")).to_have_count(0)
    # From peer_read_seq after a reload; a new message is not seen yet.
    bob.page.goto("/")
    say(alice.page, f"{tag} three")
    sent(alice.page, f"{tag} three")
    alice.page.reload()
    connected(alice.page)
    expect(item(alice.page, f"{tag} two").locator(".seen")).to_be_visible()
    expect(item(alice.page, f"{tag} three").locator(".seen")).to_be_hidden()


def test_message_search_shows_highlights_and_opens_the_room_there(
    browser_user: UserFactory,
) -> None:
    alice = browser_user()
    open_lobby(alice)
    tag = mark()
    word = f"zebra{tag}"
    say(alice.page, f"<b>{word}</b> first")
    room = lobby_id(alice)
    alice.page.evaluate(
        """([room, tag]) => {
            for (let i = 0; i < 55; i++) window.chatapp.socket.send(room, `${tag} filler ${i}`);
        }""",
        [room, tag],
    )
    expect(item(alice.page, f"{tag} filler 54")).to_have_attribute(
        "data-state", "sent", timeout=30_000
    )
    alice.page.reload()
    connected(alice.page)
    search = alice.page.get_by_role("searchbox", name="Search messages")
    search.fill(word)
    search.press("Enter")
    hit = alice.page.locator("#message-search-panel li")
    expect(hit).to_have_count(1)
    expect(hit.locator("mark")).to_have_text(word)
    expect(hit.locator(".result-text")).to_have_text(f"<b>{word}</b> first")
    assert hit.locator("b").count() == 0
    hit.get_by_role("link").click()
    target = item(alice.page, f"{word}</b> first")
    expect(target).to_be_focused()
    expect(alice.page.locator("#message-search-panel")).to_be_hidden()
    # The same from another page: the result's link opens the room there.
    seq = target.get_attribute("data-seq")
    alice.page.goto("/chat/")
    alice.page.goto(f"/?around={seq}")
    expect(item(alice.page, f"{word}</b> first")).to_be_focused()


# Each element of a message <li> as "tag.class class", depth first.
SHAPE = """li => [li, ...li.querySelectorAll('*')].map(
    e => e.tagName.toLowerCase() + '.' + [...e.classList].sort().join(' '))"""


def test_the_server_renders_messages_with_the_markup_the_script_uses(
    browser: Browser, browser_user: UserFactory, chat_server: LiveServer
) -> None:
    alice = browser_user()
    open_lobby(alice)
    tag = mark()
    say(alice.page, f"{tag} quoted")
    quoted = int(sent(alice.page, f"{tag} quoted").get_attribute("data-id") or 0)
    room = lobby_id(alice)
    alice.page.evaluate(
        "([room, tag, id]) => window.chatapp.socket.send(room, `${tag} reply`, { replyTo: id })",
        [room, tag, quoted],
    )
    reply = sent(alice.page, f"{tag} reply")
    edit_via_menu(alice.page, f"{tag} reply", f"{tag} reply, edited")
    react_with(alice.page, f"{tag} reply, edited", "thumbs up", re.compile(r"^thumbs up"))
    expect(chip(alice.page, f"{tag} reply", "👍")).to_have_text("👍 1")
    menu_action(alice.page, f"{tag} quoted", "Delete…")
    alice.page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(reply.locator(".quote")).to_have_text(f"{alice.username} deleted")
    scripted = reply.evaluate(SHAPE)

    # The same page without script: what the server rendered.
    plain = browser.new_context(
        base_url=chat_server.base,
        java_script_enabled=False,
        storage_state=alice.context.storage_state(),
    )
    try:
        page = plain.new_page()
        page.goto("/")
        served = item(page, f"{tag} reply, edited")
        expect(served.locator(".quote")).to_have_text(f"{alice.username} deleted")
        expect(served.locator(".edited")).to_be_visible()
        expect(served.locator("button.reaction")).to_have_text("👍 1")
        expect(served.locator("button.reaction")).to_have_attribute("aria-pressed", "true")
        gone = page.locator("#messages li.message", has_text="This message was deleted")
        expect(gone).to_have_count(1)
        expect(gone.locator(".edited")).to_be_hidden()
        assert served.evaluate(SHAPE) == scripted
        assert page.locator("template#message-template").count() == 1
    finally:
        plain.close()


def test_an_edit_after_the_window_is_refused_on_the_message(
    browser: Browser, page_problems: PageProblems, tmp_path: Path
) -> None:
    """On a server of its own whose edit window is two seconds."""
    with fresh_database(os.environ["DATABASE_URL"]) as database_url:
        server = LiveServer.in_folder(tmp_path, database_url)
        server.env["CHAT_EDIT_WINDOW"] = "2"
        server.start()
        alice = new_user(browser, server.base)
        page_problems.watch(alice.context)
        try:
            page = alice.page
            open_lobby(alice)
            tag = mark()
            say(page, f"{tag} typo")
            target = sent(page, f"{tag} typo")
            created = target.locator("time").get_attribute("datetime")
            # Past the window (measured from the stored time, by the page's clock).
            page.wait_for_timeout(2500)
            assert page.evaluate(f"Date.now() - Date.parse('{created}')") > 2000
            edit_via_menu(page, f"{tag} typo", f"{tag} fixed")
            state = target.locator(".state")
            expect(state).to_have_text(re.compile(r"^Not saved: "))
            expect(state).to_have_attribute("data-error", "edit_window")
            expect(target.locator(".body")).to_have_text(f"{tag} typo")
            expect(target.locator(".edited")).to_be_hidden()
            no_changes_queued(page)
        finally:
            alice.context.close()
            server.stop()
