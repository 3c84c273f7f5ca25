// One conversation on the page: its messages (older ones load as you scroll
// up, or a window around a quoted message or a search result that pages both
// ways), live changes to them, who is typing, how many are online, read
// markers and "Seen". The composer (composer.js) and the message menu
// (actions.js) are its helpers.

import { MessageActions } from "./actions.js";
import { Composer } from "./composer.js";
import { fillMessage, messageItem, quoteOf } from "./message.js";
import { api, h } from "./render.js";

const TYPING_SHOWN = 4000;
const NEAR_BOTTOM = 80; // px
const READ_EVERY = 1000;
const PAGE = 50;
const EARLY_KEPT = 500; // changes to messages not on the page, kept for a history page in flight

export class RoomView {
  constructor(root, socket, me, room, initialMessages) {
    this.root = root;
    this.socket = socket;
    this.me = me;
    this.room = room;
    this.list = root.querySelector("#messages");
    this.scroller = root.querySelector("#scroller");
    this.online = root.querySelector("#online-count");
    this.typingLine = root.querySelector("#typing");
    this.announcer = root.querySelector("#announcer");
    this.older = root.querySelector("#history-status");
    this.jump = root.querySelector("#jump");
    this.byId = new Map(); // message id -> <li>
    this.messages = new Map(); // message id -> the newest copy from the server
    this.early = new Map(); // message id -> a change to a message not (yet) on the page
    this.byClientId = new Map(); // client_id -> <li> of my pending sends
    this.typers = new Map(); // username -> timeout
    this.hasMore = root.dataset.hasMore === "true";
    this.hasNewer = false; // the page shows a window of the past (a jump), not the latest
    this.heldBack = []; // live messages that came while the page showed the past
    this.loadingOlder = false;
    this.loadingNewer = false;
    this.readSeq = 0;
    this.readTimer = 0;
    this.peerReadSeq = room.peer_read_seq ?? null;

    this.composer = new Composer(this);
    this.actions = new MessageActions(this);
    this.list.replaceChildren();
    for (const message of initialMessages) this.#append(message);
    for (const frame of socket.pendingFor(room.id)) this.showPending(frame);
    this.#updateOlder();
    this.#updateSeen();
    this.#scrollToBottom();

    this.#listen();
    const lastSeq = initialMessages.at(-1)?.seq ?? 0;
    // The page's messages are at least as new as the room's revision when it
    // was read (just before them): changes after it come first on subscribe.
    socket.subscribe(room.id, { afterSeq: lastSeq, afterRev: room.last_rev ?? 0 });
    // A search result of this room opened from another page.
    const around = Number(new URLSearchParams(location.search).get("around"));
    if (around > 0) this.showMessage(null, around);
  }

  #listen() {
    const on = (type, handler) =>
      this.socket.addEventListener(type, (event) => {
        const frame = event.detail;
        if ((frame.room ?? frame.message?.room ?? frame.frame?.room) === this.room.id) {
          handler(frame);
        }
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
      const room = event.detail.rooms.find((r) => r.id === this.room.id);
      if (!room) this.#closed();
      else this.#peerRead(room.peer_read_seq ?? null);
    });
    this.socket.addEventListener("room", (event) => {
      const room = event.detail.room;
      if (room.id === this.room.id) this.#peerRead(room.peer_read_seq ?? null);
    });
    on("read_receipt", (frame) => this.#peerRead(frame.seq));
    on("presence", (frame) => this.#setOnline(frame.online));
    on("message", (frame) => this.#received(frame.message));
    on("message_updated", (frame) => this.#updated(frame.message));
    on("history", (frame) => this.#prepend(frame.messages, frame.has_more));
    on("typing", (frame) => this.#someoneTyping(frame.user));
    on("room_removed", () => this.#closed());
    on("changequeued", ({ frame }) => this.refill(frame.message));
    on("changefailed", (failure) => this.#changeFailed(failure));
    this.socket.addEventListener("changesdone", (event) => this.#changesDone(event.detail.frames));
    this.socket.addEventListener("ack", (event) => this.#acked(event.detail));
    this.socket.addEventListener("sendfailed", (event) => this.#failed(event.detail));
    this.socket.addEventListener("status", (event) => {
      this.root.dataset.connection = event.detail;
    });
    this.scroller.addEventListener("scroll", () => {
      if (this.scroller.scrollTop < 120) this.#loadOlder();
      if (this.#nearBottom()) {
        if (this.hasNewer) this.#loadNewer();
        this.jump.hidden = true;
        this.#markRead();
      }
    });
    this.jump.addEventListener("click", () => this.showLatest());
    document.addEventListener("visibilitychange", () => this.#markRead());
    addEventListener("focus", () => this.#markRead());
  }

  // --- sending --------------------------------------------------------------------

  /** A send waiting for its ack, shown as "Sending…". */
  showPending(frame) {
    const quoted = frame.reply_to ? this.messages.get(frame.reply_to) : null;
    const item = messageItem({
      id: null, seq: null, author: this.me, body: frame.body,
      created_at: new Date().toISOString(), client_id: frame.client_id,
      reply_to: quoted ? quoteOf(quoted) : null,
    }, { me: this.me, state: "pending" });
    this.byClientId.set(frame.client_id, item);
    this.list.append(item);
  }

  #acked({ client_id: clientId, message }) {
    if (message.room !== this.room.id) return;
    const item = this.byClientId.get(clientId);
    this.byClientId.delete(clientId);
    if (!item) return;
    if (this.byId.has(message.id) || this.hasNewer) {
      item.remove(); // the live copy arrived first, or comes when paging down
      return;
    }
    this.#settle(item, message);
  }

  /** A pending send is stored: its item becomes the stored message. */
  #settle(pending, message) {
    const sent = this.#item(message);
    pending.replaceWith(sent);
    this.#updateSeen();
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
    this.say(`Your message was not sent: ${detail}`);
  }

  // --- changes to messages --------------------------------------------------------

  /** Show a message again: the server's copy with my queued changes on top. */
  refill(messageId) {
    const item = this.byId.get(messageId);
    const message = this.messages.get(messageId);
    if (!item || !message) return;
    fillMessage(item, message, { me: this.me, changes: this.socket.changesFor(this.room.id) });
  }

  /** A message_updated: applied when newer than the copy shown. */
  #updated(message) {
    const known = this.messages.get(message.id) ?? this.early.get(message.id);
    if (known && known.rev >= message.rev) return;
    if (!this.byId.has(message.id)) {
      this.early.set(message.id, message);
      if (this.early.size > EARLY_KEPT) this.early.delete(this.early.keys().next().value);
      return;
    }
    this.messages.set(message.id, message);
    this.refill(message.id);
  }

  /** The server handled these: "Saving…" goes once nothing else waits. The
   * content stays as shown; their message_updated brings the server's copy. */
  #changesDone(frames) {
    const waiting = new Set(this.socket.changesFor(this.room.id).map((change) => change.message));
    for (const frame of frames) {
      const item = this.byId.get(frame.message);
      if (frame.room !== this.room.id || !item || waiting.has(frame.message)) continue;
      const state = item.querySelector(".state");
      if (!state.dataset.error) state.textContent = "";
    }
  }

  #changeFailed({ frame, code, detail }) {
    this.refill(frame.message);
    const item = this.byId.get(frame.message);
    const what = { edit: "Not saved", delete: "Not deleted", react: "Reaction not saved" }[frame.type];
    if (item) {
      const status = item.querySelector(".state");
      status.textContent = `${what}: ${detail}`;
      status.dataset.error = code;
    }
    this.say(`${what}: ${detail}`);
  }

  // --- receiving ------------------------------------------------------------------

  #received(message) {
    if (this.hasNewer) {
      // The page shows the past: paging down brings it, or, if it was stored
      // after the last page was read, this.
      this.heldBack.push(message);
      return;
    }
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
      this.say(`${message.author.username}: ${message.body}`);
    }
    if (follow || message.author.id === this.me.id) this.#scrollToBottom();
    else this.jump.hidden = false;
    this.#markRead();
  }

  /** The <li> of a stored message, known by its id from now on. */
  #item(message) {
    const early = this.early.get(message.id);
    this.early.delete(message.id);
    const newest = early && early.rev > message.rev ? early : message;
    this.messages.set(newest.id, newest);
    const item = messageItem(newest, {
      me: this.me, changes: this.socket.changesFor(this.room.id),
    });
    this.byId.set(newest.id, item);
    return item;
  }

  /** Sent messages sit in seq order, before my pending ones. */
  #append(message) {
    const item = this.#item(message);
    const firstPending = this.list.querySelector('[data-state="pending"]');
    const later = [...this.list.querySelectorAll("[data-seq]")]
      .find((other) => Number(other.dataset.seq) > message.seq);
    this.list.insertBefore(item, later ?? firstPending ?? null);
    this.#updateSeen();
  }

  #prepend(messages, hasMore) {
    this.loadingOlder = false;
    this.hasMore = hasMore;
    const height = this.scroller.scrollHeight;
    const first = this.list.querySelector("[data-seq]");
    const fragment = document.createDocumentFragment();
    for (const message of messages) {
      if (!this.byId.has(message.id)) fragment.append(this.#item(message));
    }
    this.list.insertBefore(fragment, first ?? this.list.firstChild);
    this.scroller.scrollTop += this.scroller.scrollHeight - height;
    this.#updateOlder();
    this.#updateSeen();
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

  // --- a window of the past: quoted messages and search results ----------------------

  /** Show a message: scrolled to if on the page, else the page around it.
   * Without an id, the message of that seq. */
  async showMessage(id, seq) {
    const find = () => (id ? this.byId.get(id) : this.list.querySelector(`[data-seq="${seq}"]`));
    if (!find()) {
      let page;
      try {
        page = await api(this.#messagesUrl({ around_seq: seq }));
      } catch (error) {
        this.say(error.message);
        return;
      }
      this.#showWindow(page.messages, page.has_more, page.has_newer);
    }
    const item = find();
    if (!item) return;
    item.scrollIntoView({ block: "center" });
    item.focus({ preventScroll: true });
    item.classList.remove("flash");
    void item.offsetWidth; // restart the highlight
    item.classList.add("flash");
  }

  #showWindow(messages, hasMore, hasNewer) {
    const pending = [...this.list.querySelectorAll('[data-state="pending"], [data-state="failed"]')];
    this.byId.clear();
    this.list.replaceChildren();
    for (const message of messages) this.list.append(this.#item(message));
    this.list.append(...pending);
    this.hasMore = hasMore;
    this.hasNewer = hasNewer;
    if (hasNewer) this.heldBack = [];
    this.jump.hidden = !hasNewer;
    this.#updateOlder();
    this.#updateSeen();
  }

  async #loadNewer() {
    if (this.loadingNewer) return;
    const last = [...this.list.querySelectorAll("[data-seq]")].at(-1);
    if (!last) return;
    this.loadingNewer = true;
    try {
      const page = await api(this.#messagesUrl({ after_seq: last.dataset.seq }));
      const pendingStart = this.list.querySelector('[data-state="pending"], [data-state="failed"]');
      for (const message of page.messages) {
        if (!this.byId.has(message.id)) this.list.insertBefore(this.#item(message), pendingStart);
      }
      this.hasNewer = page.has_newer;
      this.jump.hidden = !this.hasNewer;
      if (!this.hasNewer) this.#releaseHeldBack();
      this.#updateSeen();
    } catch (error) {
      this.say(error.message);
    } finally {
      this.loadingNewer = false;
    }
  }

  #releaseHeldBack() {
    const held = this.heldBack;
    this.heldBack = [];
    for (const message of held) this.#received(message);
  }

  /** Back to the latest messages (from a window of the past, the last page). */
  async showLatest() {
    if (this.hasNewer) {
      try {
        const page = await api(this.#messagesUrl({}));
        this.#showWindow(page.messages, page.has_more, false);
        this.#releaseHeldBack();
      } catch (error) {
        this.say(error.message);
        return;
      }
    }
    this.#scrollToBottom();
  }

  #messagesUrl(params) {
    const query = new URLSearchParams({ ...params, limit: PAGE });
    return `/api/rooms/${this.room.id}/messages?${query}`;
  }

  // --- presence, typing, reading, seen --------------------------------------------

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

  #peerRead(seq) {
    if (this.room.kind !== "private") return;
    this.peerReadSeq = seq === null ? null : Math.max(seq, this.peerReadSeq ?? 0);
    this.#updateSeen();
  }

  /** "Seen" under my last message the peer has read (private rooms only). */
  #updateSeen() {
    for (const seen of this.list.querySelectorAll(".seen:not([hidden])")) seen.hidden = true;
    if (this.room.kind !== "private" || this.peerReadSeq === null) return;
    const read = [...this.list.querySelectorAll(".message.mine[data-seq]")]
      .filter((item) => Number(item.dataset.seq) <= this.peerReadSeq)
      .at(-1);
    if (read) read.querySelector(".seen").hidden = false;
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
    this.composer.disable();
    notice.hidden = false;
    this.say("This conversation was closed.");
  }

  // --- helpers ------------------------------------------------------------------

  /** My latest message that I may still edit (for the Up arrow). */
  lastOwnMessage() {
    const items = [...this.list.querySelectorAll('.message.mine[data-state="sent"]')];
    return items.reverse().find((item) => item.dataset.deleted !== "true") ?? null;
  }

  say(text) {
    this.announcer.textContent = text;
  }

  #nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM;
  }

  #scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.jump.hidden = !this.hasNewer;
  }

  scrollToBottom() {
    this.#scrollToBottom();
  }
}
