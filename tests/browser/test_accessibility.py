"""Accessibility checks in a real Chromium: text contrast (WCAG AA), labelled
controls, and keyboard use of the bell."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.support import UserFactory

# For every visible element with its own text: its colour against the first
# opaque background up its ancestors, as a WCAG contrast ratio. Large text
# (24 px, or 18.66 px bold) needs 3, the rest 4.5.
LOW_CONTRAST = """() => {
  const rgb = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (node) => {
    for (let el = node; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
    const style = getComputedStyle(el);
    if (el.closest('[data-state="pending"]')) continue; // dimmed on purpose until stored
    const [l1, l2] = [lum(rgb(style.color).slice(0, 3)), lum(background(el))];
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      const text = el.textContent.trim().slice(0, 30);
      bad.push(`${el.tagName.toLowerCase()}.${el.className} "${text}" ${ratio.toFixed(2)}`);
    }
  }
  return bad;
}"""

UNLABELLED = """() => [...document.querySelectorAll("input, textarea, select, button, a[href]")]
  .filter((el) => el.type !== "hidden" && el.checkVisibility())
  .filter((el) => {
    const name = (el.labels && [...el.labels].map((l) => l.textContent).join(" "))
      || el.getAttribute("aria-label") || el.textContent || el.getAttribute("title")
      || (el.querySelector("img[alt]") || {}).alt;
    return !name || !name.trim();
  })
  .map((el) => el.outerHTML.slice(0, 80))"""


def check(page: Page) -> None:
    assert page.evaluate(LOW_CONTRAST) == [], page.url
    assert page.evaluate(UNLABELLED) == [], page.url


def test_contrast_and_labels_on_the_main_pages(browser_user: UserFactory) -> None:
    alice = browser_user()
    alice.page.goto("/")
    expect(alice.page.locator("#conn-status")).to_have_attribute("data-state", "connected")
    box = alice.page.get_by_role("textbox", name="Message")
    box.fill("a message of mine, with https://example.com/a link")
    box.press("Enter")
    expect(alice.page.locator('#messages [data-state="sent"]')).not_to_have_count(0)
    check(alice.page)
    alice.page.locator("#bell").click()
    expect(alice.page.locator("#bell-list li").first).to_be_visible()
    check(alice.page)
    for path in (
        "/chat/",
        "/friends/",
        "/friends/requests/",
        "/notifications/",
        "/accounts/profile/",
        f"/accounts/u/{alice.username}/",
    ):
        alice.page.goto(path)
        check(alice.page)


def test_the_bell_works_from_the_keyboard(browser_user: UserFactory) -> None:
    alice = browser_user()
    alice.page.goto("/")
    bell = alice.page.locator("#bell")
    expect(bell).to_have_accessible_name("Notifications")
    bell.focus()
    alice.page.keyboard.press("Enter")
    expect(bell).to_have_attribute("aria-expanded", "true")
    expect(alice.page.locator("#bell-panel")).to_be_visible()
    alice.page.keyboard.press("Escape")
    expect(alice.page.locator("#bell-panel")).to_be_hidden()
    expect(bell).to_be_focused()
