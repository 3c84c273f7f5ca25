// One conversation on the page: its messages (older ones load as you scroll
// up), the composer, who is typing, how many are online, read markers.

import { avatar, h, richText, timeTag } from "./render.js";

const TYPING_EVERY = 2000; // the server relays one typing frame per 2 s
const TYPING_SHOWN = 4000;
const NEAR_BOTTOM = 80; // px
const READ_EVERY = 1000;

export class RoomView {
  constructor(root, socket, me, room, initialMessages) {
    this.root = root;
    this.socket = socket;
    this.me = me;
    this.room = room;
    this.list = root.querySelector("#messages");
    this.scroller = root.querySelector("#scroller");
    this.form = root.querySelector("#composer");
    this.input = root.querySelector("#composer-body");
    this.online = root.querySelector("#online-count");
    this.typingLine = root.querySelector("#typing");
    this.announcer = root.querySelector("#announcer");
    this.older = root.querySelector("#history-status");
    this.jump = root.querySelector("#jump");
    this.maxBody = Number(this.input.getAttribute("maxlength")) || 4000;
    this.byId = new Map(); // message id -> <li>
    this.byClientId = new Map(); // client_id -> <li> of my pending sends
    this.typers = new Map(); // username -> timeout
    this.hasMore = root.dataset.hasMore === "true";
    this.loadingOlder = false;
    this.lastTypingSent = 0;
    this.readSeq = 0;
    this.readTimer = 0;

    this.list.replaceChildren();
    for (const message of initialMessages) this.#append(message);
    for (const frame of socket.pendingFor(room.id)) this.#showPending(frame);
    this.#updateOlder();
    this.#scrollToBottom();

    this.#listen();
    const lastSeq = initialMessages.at(-1)?.seq ?? 0;
    socket.subscribe(room.id, { afterSeq: lastSeq });
  }

  #listen() {
    const on = (type, handler) =>
      this.socket.addEventListener(type, (event) => {
        const frame = event.detail;
        if ((frame.room ?? frame.message?.room) === this.room.id) handler(frame);
      });
    on("subscribed", (frame) => {
      this.#setOnline(frame.online);
      this.#markRead();
      this.#fillScroller();
    });
    this.socket.addEventListener("hello", (event) => {
      // A history request of the previous socket will never be answered.
      this.loadingOlder = false;
      this.#updateOlder();
      if (!event.detail.rooms.some((room) => room.id === this.room.id)) this.#closed();
    });
    on("presence", (frame) => this.#setOnline(frame.online));
    on("message", (frame) => this.#received(frame.message));
    on("history", (frame) => this.#prepend(frame.messages, frame.has_more));
    on("typing", (frame) => this.#someoneTyping(frame.user));
    on("room_removed", () => this.#closed());
    this.socket.addEventListener("ack", (event) => this.#acked(event.detail));
    this.socket.addEventListener("sendfailed", (event) => this.#failed(event.detail));
    this.socket.addEventListener("status", (event) => {
      this.root.dataset.connection = event.detail;
    });

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submit();
    });
    this.input.addEventListener("keydown", (event) => {
      // keyCode 229: the Enter that ends an IME composition (some browsers clear isComposing)
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.#submit();
      }
    });
    this.input.addEventListener("input", () => {
      this.#autosize();
      const now = Date.now();
      if (this.input.value.trim() && now - this.lastTypingSent > TYPING_EVERY) {
        this.lastTypingSent = now;
        this.socket.typing(this.room.id);
      }
    });
    this.scroller.addEventListener("scroll", () => {
      if (this.scroller.scrollTop < 120) this.#loadOlder();
      if (this.#nearBottom()) {
        this.jump.hidden = true;
        this.#markRead();
      }
    });
    this.jump.addEventListener("click", () => this.#scrollToBottom());
    document.addEventListener("visibilitychange", () => this.#markRead());
    addEventListener("focus", () => this.#markRead());
  }

  // --- sending --------------------------------------------------------------------

  #submit() {
    const body = this.input.value.trim();
    if (!body) return;
    if (body.length > this.maxBody) {
      this.#say(`A message is at most ${this.maxBody} characters.`);
      return;
    }
    const clientId = this.socket.send(this.room.id, body);
    this.#showPending({ client_id: clientId, body });
    this.input.value = "";
    this.#autosize();
    this.#scrollToBottom();
  }

  #showPending(frame) {
    const item = this.#item({
      id: null, seq: null, author: this.me, body: frame.body,
      created_at: new Date().toISOString(), client_id: frame.client_id,
    }, "pending");
    this.byClientId.set(frame.client_id, item);
    this.list.append(item);
  }

  #acked({ client_id: clientId, message }) {
    if (message.room !== this.room.id) return;
    const item = this.byClientId.get(clientId);
    this.byClientId.delete(clientId);
    if (!item) return;
    if (this.byId.has(message.id)) {
      item.remove(); // the live copy arrived first
      return;
    }
    this.#settle(item, message);
  }

  /** A pending send is stored: its item becomes the stored message. */
  #settle(pending, message) {
    const sent = this.#item(message, "sent");
    pending.replaceWith(sent);
    this.byId.set(message.id, sent);
  }

  #failed({ clientId, room, detail }) {
    if (room !== this.room.id) return;
    const item = this.byClientId.get(clientId);
    if (!item) return;
    this.byClientId.delete(clientId);
    item.dataset.state = "failed";
    const status = item.querySelector(".state");
    status.textContent = `Not sent: ${detail}`;
    status.append(" ", h("button", {
      type: "button", className: "link", text: "Dismiss", onclick: () => item.remove(),
    }));
    this.#say(`Your message was not sent: ${detail}`);
  }

  // --- receiving ------------------------------------------------------------------

  #received(message) {
    const follow = this.#nearBottom();
    const mine = message.client_id && this.byClientId.get(message.client_id);
    if (mine && message.author.id === this.me.id) {
      this.byClientId.delete(message.client_id);
      this.#settle(mine, message);
    } else if (this.byId.has(message.id)) {
      return;
    } else {
      this.#append(message);
    }
    if (message.author.id !== this.me.id) {
      this.#clearTyping(message.author.username);
      this.#say(`${message.author.username}: ${message.body}`);
    }
    if (follow || message.author.id === this.me.id) this.#scrollToBottom();
    else this.jump.hidden = false;
    this.#markRead();
  }

  /** Sent messages sit in seq order, before my pending ones. */
  #append(message) {
    const item = this.#item(message, "sent");
    this.byId.set(message.id, item);
    const firstPending = this.list.querySelector('[data-state="pending"]');
    const later = [...this.list.querySelectorAll("[data-seq]")]
      .find((other) => Number(other.dataset.seq) > message.seq);
    this.list.insertBefore(item, later ?? firstPending ?? null);
  }

  #prepend(messages, hasMore) {
    this.loadingOlder = false;
    this.hasMore = hasMore;
    const height = this.scroller.scrollHeight;
    const first = this.list.querySelector("[data-seq]");
    const fragment = document.createDocumentFragment();
    for (const message of messages) {
      if (this.byId.has(message.id)) continue;
      const item = this.#item(message, "sent");
      this.byId.set(message.id, item);
      fragment.append(item);
    }
    this.list.insertBefore(fragment, first ?? this.list.firstChild);
    this.scroller.scrollTop += this.scroller.scrollHeight - height;
    this.#updateOlder();
    this.#fillScroller();
  }

  /** Without a scroll bar there is no scrolling up: load older messages until
   * the conversation fills its pane (or has no more). */
  #fillScroller() {
    if (this.scroller.scrollHeight <= this.scroller.clientHeight) this.#loadOlder();
  }

  #loadOlder() {
    if (!this.hasMore || this.loadingOlder || this.socket.status !== "connected") return;
    const first = this.list.querySelector("[data-seq]");
    if (!first) return;
    this.loadingOlder = true;
    this.#updateOlder();
    this.socket.history(this.room.id, Number(first.dataset.seq));
  }

  #updateOlder() {
    this.older.textContent = this.loadingOlder
      ? "Loading older messages…"
      : this.hasMore ? "Scroll up for older messages" : "The beginning of this conversation";
  }

  #item(message, state) {
    const mine = message.author.id === this.me.id;
    return h("li", {
      className: mine ? "message mine" : "message",
      dataset: {
        state,
        ...(message.id ? { id: message.id, seq: message.seq } : {}),
        ...(message.client_id ? { clientId: message.client_id } : {}),
      },
    },
    avatar(message.author),
    h("div", { className: "bubble" },
      h("div", { className: "meta" },
        h("span", { className: "author", text: message.author.username }),
        " ",
        timeTag(message.created_at),
        " ",
        h("span", { className: "state", text: state === "pending" ? "Sending…" : "" })),
      h("p", { className: "body" }, richText(message.body))));
  }

  // --- presence, typing, reading ------------------------------------------------

  #setOnline(count) {
    this.online.textContent = `${count} online`;
  }

  #someoneTyping(user) {
    if (user.id === this.me.id) return;
    clearTimeout(this.typers.get(user.username));
    this.typers.set(user.username,
      setTimeout(() => this.#clearTyping(user.username), TYPING_SHOWN));
    this.#renderTyping();
  }

  #clearTyping(username) {
    clearTimeout(this.typers.get(username));
    if (this.typers.delete(username)) this.#renderTyping();
  }

  #renderTyping() {
    const names = [...this.typers.keys()];
    this.typingLine.textContent =
      names.length === 0 ? ""
        : names.length === 1 ? `${names[0]} is typing…`
          : names.length <= 3 ? `${names.join(", ")} are typing…`
            : "Several people are typing…";
  }

  /** Move the read marker to the last message shown, at most once a second:
   * a busy room costs one write per reader per second, not one per message. */
  #markRead() {
    if (this.readTimer) return;
    this.readTimer = setTimeout(() => {
      this.readTimer = 0;
      if (document.visibilityState !== "visible" || !this.#nearBottom()) return;
      const last = [...this.list.querySelectorAll("[data-seq]")].at(-1);
      const seq = last ? Number(last.dataset.seq) : 0;
      if (seq > this.readSeq && this.socket.status === "connected") {
        this.readSeq = seq;
        this.socket.read(this.room.id, seq);
      }
    }, READ_EVERY);
  }

  #closed() {
    const notice = this.root.querySelector("#room-closed");
    if (!notice.hidden) return;
    this.form.querySelectorAll("textarea, button").forEach((node) => { node.disabled = true; });
    notice.hidden = false;
    this.#say("This conversation was closed.");
  }

  // --- helpers ------------------------------------------------------------------

  #say(text) {
    this.announcer.textContent = text;
  }

  #nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM;
  }

  #scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.jump.hidden = true;
  }

  #autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 200)}px`;
  }
}
