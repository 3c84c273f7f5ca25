// The composer of a conversation: Enter sends (Shift+Enter: a new line), the
// message being replied to above it, "@" completes the names of the people
// who can read the room, Up in an empty composer edits my last message.

import { api, avatar, h } from "./render.js";
import { quoteOf } from "./message.js";

const TYPING_EVERY = 2000; // the server relays one typing frame per 2 s
const MENTION_WAIT = 150; // ms after the last keystroke
const MENTIONS_SHOWN = 6;
// "@" then the start of a name, right before the caret; the characters a
// username may hold, as the server reads mentions.
const MENTION_BEFORE_CARET = /(?:^|[^\w.@+-])@([\w.@+-]{0,30})$/u;

export class Composer {
  constructor(view) {
    this.view = view;
    const root = view.root;
    this.form = root.querySelector("#composer");
    this.input = root.querySelector("#composer-body");
    this.replyBar = root.querySelector("#reply-bar");
    this.mentionList = root.querySelector("#mention-list");
    this.maxBody = Number(this.input.getAttribute("maxlength")) || 4000;
    this.replyTo = null; // the message being replied to
    this.lastTypingSent = 0;
    this.mention = null; // {start, query} of the "@name" being typed
    this.people = []; // the suggestions shown
    this.active = -1; // the highlighted suggestion
    this.mentionTimer = 0;
    this.asked = 0;

    this.input.setAttribute("aria-autocomplete", "list");
    this.input.setAttribute("aria-controls", "mention-list");
    this.input.setAttribute("aria-expanded", "false");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submit();
    });
    this.input.addEventListener("keydown", (event) => this.#keydown(event));
    this.input.addEventListener("input", () => this.#typed());
    this.input.addEventListener("blur", () => setTimeout(() => this.#hideMentions(), 150));
    this.replyBar.querySelector(".reply-cancel").addEventListener("click", () => {
      this.cancelReply();
      this.input.focus();
    });
    this.mentionList.addEventListener("mousedown", (event) => event.preventDefault());
    this.mentionList.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.#pick(Number(option.dataset.index));
    });
  }

  disable() {
    this.form.querySelectorAll("textarea, button").forEach((node) => { node.disabled = true; });
  }

  startReply(message) {
    this.replyTo = message;
    const quote = quoteOf(message);
    this.replyBar.querySelector(".quote-author").textContent = quote.author.username;
    this.replyBar.querySelector(".quote-excerpt").textContent = quote.excerpt || "deleted";
    this.replyBar.hidden = false;
    this.input.focus();
  }

  cancelReply() {
    this.replyTo = null;
    this.replyBar.hidden = true;
  }

  #submit() {
    const body = this.input.value.trim();
    if (!body) return;
    if (body.length > this.maxBody) {
      this.view.say(`A message is at most ${this.maxBody} characters.`);
      return;
    }
    const { socket, room } = this.view;
    const replyTo = this.replyTo?.id ?? null;
    const clientId = socket.send(room.id, body, { replyTo });
    this.view.showPending({ client_id: clientId, body, reply_to: replyTo });
    this.input.value = "";
    this.cancelReply();
    this.#hideMentions();
    this.#autosize();
    this.view.scrollToBottom();
  }

  #keydown(event) {
    if (this.#mentionKey(event)) return;
    // keyCode 229: the Enter that ends an IME composition (some browsers clear isComposing)
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      this.#submit();
    } else if (event.key === "ArrowUp" && this.input.value === "") {
      const last = this.view.lastOwnMessage();
      if (last) {
        event.preventDefault();
        this.view.actions.startEdit(last);
      }
    } else if (event.key === "Escape" && this.replyTo) {
      this.cancelReply();
    }
  }

  #typed() {
    this.#autosize();
    const now = Date.now();
    if (this.input.value.trim() && now - this.lastTypingSent > TYPING_EVERY) {
      this.lastTypingSent = now;
      this.view.socket.typing(this.view.room.id);
    }
    const before = this.input.value.slice(0, this.input.selectionStart);
    const match = before.match(MENTION_BEFORE_CARET);
    if (!match) {
      this.#hideMentions();
      return;
    }
    this.mention = { start: before.length - match[1].length - 1, query: match[1] };
    clearTimeout(this.mentionTimer);
    this.mentionTimer = setTimeout(() => this.#suggest(match[1]), MENTION_WAIT);
  }

  /** Who may be mentioned: the peer of a private room, else anyone by name. */
  async #suggest(query) {
    const asked = ++this.asked;
    const { room, me } = this.view;
    let people;
    if (room.kind === "private") {
      people = room.peer ? [room.peer] : [];
    } else if (query) {
      try {
        people = (await api(`/api/users?q=${encodeURIComponent(query)}`)).results;
      } catch {
        people = [];
      }
    } else {
      people = [];
    }
    if (asked !== this.asked || !this.mention) return;
    const prefix = query.toLowerCase();
    this.people = people
      .filter((person) => person.id !== me.id && person.username.toLowerCase().startsWith(prefix))
      .slice(0, MENTIONS_SHOWN);
    if (this.people.length === 0) {
      this.#hideMentions();
      return;
    }
    this.active = 0;
    this.mentionList.replaceChildren(...this.people.map((person, index) => h("li", {
      id: `mention-${index}`, role: "option", dataset: { index },
    }, avatar(person), h("span", { text: person.username }))));
    this.mentionList.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.#highlight();
  }

  /** Arrows, Enter, Tab and Escape while suggestions show; true if used. */
  #mentionKey(event) {
    if (this.mentionList.hidden || this.people.length === 0) return false;
    const count = this.people.length;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      this.active = (this.active + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
      this.#highlight();
    } else if (event.key === "Enter" || event.key === "Tab") {
      this.#pick(this.active);
    } else if (event.key === "Escape") {
      this.#hideMentions();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  #highlight() {
    [...this.mentionList.children].forEach((option, index) => {
      option.setAttribute("aria-selected", String(index === this.active));
    });
    this.input.setAttribute("aria-activedescendant", `mention-${this.active}`);
  }

  #pick(index) {
    const person = this.people[index];
    if (!person || !this.mention) return;
    const value = this.input.value;
    const end = this.mention.start + 1 + this.mention.query.length;
    const inserted = `@${person.username} `;
    this.input.value = value.slice(0, this.mention.start) + inserted + value.slice(end);
    const caret = this.mention.start + inserted.length;
    this.input.setSelectionRange(caret, caret);
    this.#hideMentions();
    this.input.focus();
  }

  #hideMentions() {
    clearTimeout(this.mentionTimer);
    this.asked += 1;
    this.mention = null;
    this.people = [];
    this.mentionList.hidden = true;
    this.mentionList.replaceChildren();
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  #autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 200)}px`;
  }
}
