// What one does to a message: its menu (the "⋯" button shown on hover or
// focus, a long press on a touch screen, or the context-menu key / Shift+F10
// on a focused message) with reply, react, edit and delete; the emoji picker;
// reaction chips; edit in place; the quote that jumps to the quoted message.

import { findEmoji } from "./emoji.js";
import { h } from "./render.js";

const LONG_PRESS = 500; // ms
const PICKER_SHOWN = 80;

export class MessageActions {
  constructor(view) {
    this.view = view;
    const root = view.root;
    this.list = view.list;
    this.menu = root.querySelector("#message-menu");
    this.picker = root.querySelector("#emoji-picker");
    this.search = this.picker.querySelector("#emoji-search");
    this.grid = this.picker.querySelector(".emoji-grid");
    this.confirm = root.querySelector("#confirm-delete");
    this.target = null; // the <li> the menu or the picker is for
    this.opener = null; // the control to give focus back to
    this.pressTimer = 0;

    this.list.addEventListener("click", (event) => this.#clicked(event));
    this.list.addEventListener("keydown", (event) => this.#listKey(event));
    this.list.addEventListener("pointerdown", (event) => this.#pressStart(event));
    for (const type of ["pointerup", "pointercancel", "pointermove", "scroll"]) {
      this.list.addEventListener(type, () => clearTimeout(this.pressTimer));
    }
    this.list.addEventListener("contextmenu", (event) => {
      const item = event.target.closest(".message[data-id]");
      // A long press on a touch screen opens the context menu: ours instead.
      if (item && this.pressTimer === -1) event.preventDefault();
    });
    this.menu.addEventListener("click", (event) => {
      const choice = event.target.closest("[data-action]");
      if (choice) this.#chosen(choice.dataset.action);
    });
    this.menu.addEventListener("keydown", (event) => this.#menuKey(event));
    this.search.addEventListener("input", () => this.#fillPicker());
    this.picker.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.#closePicker();
      }
    });
    this.grid.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-emoji]");
      if (button) this.#picked(button.dataset.emoji);
    });
    document.addEventListener("click", (event) => {
      if (!this.menu.hidden && !this.menu.contains(event.target)
        && !event.target.closest(".menu-button")) this.#closeMenu(false);
      if (!this.picker.hidden && !this.picker.contains(event.target)
        && !event.target.closest("[data-action=react], .menu-button")) this.#closePicker(false);
    });
  }

  // --- the menu -------------------------------------------------------------------

  #clicked(event) {
    const item = event.target.closest(".message");
    if (!item) return;
    if (event.target.closest(".menu-button")) {
      const button = event.target.closest(".menu-button");
      if (this.menu.hidden || this.target !== item) this.openMenu(item, button);
      else this.#closeMenu();
      return;
    }
    const chip = event.target.closest("button.reaction");
    if (chip && item.dataset.id) {
      const on = chip.getAttribute("aria-pressed") !== "true";
      this.view.socket.react(this.view.room.id, Number(item.dataset.id), chip.dataset.emoji, on);
      return;
    }
    const quote = event.target.closest(".quote");
    if (quote) this.view.showMessage(Number(quote.dataset.id), Number(quote.dataset.seq));
  }

  #listKey(event) {
    const item = event.target.closest(".message[data-id]");
    if (!item || event.target !== item) return;
    if (event.key === "ContextMenu" || (event.key === "F10" && event.shiftKey)) {
      event.preventDefault();
      this.openMenu(item, item.querySelector(".menu-button"));
    }
  }

  #pressStart(event) {
    if (event.pointerType !== "touch") return;
    const item = event.target.closest(".message[data-id]");
    if (!item || event.target.closest("button, a, textarea")) return;
    clearTimeout(this.pressTimer);
    this.pressTimer = setTimeout(() => {
      this.pressTimer = -1; // the contextmenu event that follows is ours
      this.openMenu(item, item.querySelector(".menu-button"));
    }, LONG_PRESS);
  }

  openMenu(item, opener) {
    if (!item.dataset.id) return; // not stored yet
    this.#closePicker(false);
    const message = this.view.messages.get(Number(item.dataset.id));
    const mine = message.author.id === this.view.me.id;
    const deleted = item.dataset.deleted === "true";
    const show = { reply: !deleted, react: !deleted, edit: mine && !deleted, delete: mine && !deleted };
    for (const choice of this.menu.querySelectorAll("[data-action]")) {
      choice.hidden = !show[choice.dataset.action];
    }
    if (!Object.values(show).some(Boolean)) return;
    this.#setExpanded(false);
    this.target = item;
    this.opener = opener;
    opener.setAttribute("aria-expanded", "true");
    this.#place(this.menu, opener);
    this.menu.hidden = false;
    this.#menuItems()[0].focus();
  }

  #closeMenu(refocus = true) {
    if (this.menu.hidden) return;
    this.menu.hidden = true;
    this.#setExpanded(false);
    if (refocus) this.opener?.focus();
  }

  #setExpanded(value) {
    this.opener?.setAttribute("aria-expanded", String(value));
  }

  #menuItems() {
    return [...this.menu.querySelectorAll("[data-action]")].filter((node) => !node.hidden);
  }

  #menuKey(event) {
    const items = this.#menuItems();
    const at = items.indexOf(document.activeElement);
    const move = { ArrowDown: 1, ArrowUp: -1, Home: -at, End: items.length - 1 - at }[event.key];
    if (move !== undefined) {
      event.preventDefault();
      items[(at + move + items.length) % items.length].focus();
    } else if (event.key === "Escape" || event.key === "Tab") {
      event.preventDefault();
      this.#closeMenu();
    }
  }

  #chosen(action) {
    const item = this.target;
    const message = this.view.messages.get(Number(item.dataset.id));
    this.#closeMenu(action !== "reply" && action !== "edit");
    if (action === "reply") this.view.composer.startReply(message);
    else if (action === "react") this.#openPicker(item);
    else if (action === "edit") this.startEdit(item);
    else if (action === "delete") this.#confirmDelete(message);
  }

  #place(popup, anchor) {
    const box = anchor.getBoundingClientRect();
    const room = this.view.root.getBoundingClientRect();
    popup.style.top = `${Math.max(0, box.bottom - room.top)}px`;
    popup.style.right = `${Math.max(0, room.right - box.right)}px`;
  }

  // --- reactions ------------------------------------------------------------------

  #openPicker(item) {
    this.target = item;
    this.search.value = "";
    this.#fillPicker();
    this.#place(this.picker, item.querySelector(".menu-button"));
    this.picker.hidden = false;
    this.search.focus();
  }

  #fillPicker() {
    const found = findEmoji(this.search.value, PICKER_SHOWN);
    this.grid.replaceChildren(...found.map(({ emoji, name }) => h("button", {
      type: "button", className: "emoji", dataset: { emoji }, title: name,
      "aria-label": name, text: emoji,
    })));
    if (found.length === 0) this.grid.append(h("p", { className: "muted small", text: "No emoji found" }));
  }

  #picked(emoji) {
    const item = this.target;
    this.#closePicker();
    const chip = [...item.querySelectorAll("button.reaction")]
      .find((button) => button.dataset.emoji === emoji);
    const has = chip?.getAttribute("aria-pressed") === "true";
    this.view.socket.react(this.view.room.id, Number(item.dataset.id), emoji, !has);
  }

  #closePicker(refocus = true) {
    if (this.picker.hidden) return;
    this.picker.hidden = true;
    if (refocus) this.opener?.focus();
  }

  // --- edit and delete --------------------------------------------------------------

  /** The body becomes a textarea: Enter saves, Escape cancels. */
  startEdit(item) {
    if (item.querySelector(".edit-box")) return;
    const message = this.view.messages.get(Number(item.dataset.id));
    const body = item.querySelector(".body");
    const box = h("textarea", {
      className: "edit-box", "aria-label": "Edit your message", rows: 2,
      maxlength: this.view.composer.maxBody,
    });
    box.value = currentBody(this.view, message);
    const hint = h("p", { className: "edit-hint small", text: "Enter saves · Escape cancels" });
    body.hidden = true;
    body.after(box, hint);
    const done = (save) => {
      const text = box.value.trim();
      box.remove();
      hint.remove();
      body.hidden = false;
      if (save && text && text !== currentBody(this.view, message)) {
        this.view.socket.edit(this.view.room.id, message.id, text);
      }
      item.focus();
    };
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        done(true);
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        done(false);
      }
    });
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }

  #confirmDelete(message) {
    const dialog = this.confirm;
    dialog.returnValue = "";
    dialog.addEventListener("close", () => {
      if (dialog.returnValue === "delete") this.view.socket.delete(this.view.room.id, message.id);
      this.opener?.focus();
    }, { once: true });
    dialog.showModal();
  }
}

/** The body as shown: the server's, or my edit still queued. */
function currentBody(view, message) {
  const edits = view.socket.changesFor(view.room.id)
    .filter((change) => change.message === message.id && change.type === "edit");
  return edits.at(-1)?.body ?? message.body;
}
