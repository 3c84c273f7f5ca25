// The one socket of a tab (docs/protocol.md). It keeps itself connected,
// resumes every subscribed room from the last seq and the highest rev it
// delivered, drops duplicate messages, keeps unacknowledged sends until the
// server has stored them, and queues edits, deletes and reactions ("changes")
// until the server has handled them.
//
// Events (CustomEvent, the frame or state in `detail`):
//   status     "connecting" | "connected" | "reconnecting" | "offline"
//   hello, subscribed, message, message_updated, ack, history, typing,
//   presence, unread, read_receipt, notification, notifications_unread, room,
//   room_removed, error
//   sendfailed {clientId, room, code, detail}: the server refused a send for good
//   changequeued {frame}: an edit, delete or react waits for the server
//   changesdone {frames}: the server handled these changes
//   changefailed {frame, code, detail}: the server refused it for good

import { CHANGE_TYPES, ChangeQueue } from "./changes.js";

const CLOSE_UNAUTHENTICATED = 4401;
const CLOSE_FORBIDDEN = 4403;
// The user opened more tabs than the server allows; the newest win. Coming
// back would close another tab, which would come back in turn: stay closed.
const CLOSE_TOO_MANY_SOCKETS = 4409;
const CLOSE_TOO_LARGE = 1009;
// Refusals that no retry can fix: the send is dropped and shown as failed.
const FINAL_SEND_ERRORS = new Set(["invalid", "too_large", "forbidden", "not_found"]);

export const STATUS = Object.freeze({
  CONNECTING: "connecting",
  CONNECTED: "connected",
  RECONNECTING: "reconnecting",
  OFFLINE: "offline",
});

/** Full jitter: a uniform delay in [0, min(cap, base * 2^attempt)). */
export function backoffDelay(attempt, { base = 500, cap = 15000, random = Math.random } = {}) {
  return Math.floor(random() * Math.min(cap, base * 2 ** attempt));
}

export function newClientId() {
  return crypto.randomUUID().replaceAll("-", "");
}

export class ChatSocket extends EventTarget {
  constructor({
    url = defaultUrl(),
    storageKey = null,
    userId = null,
    base = 500,
    cap = 15000,
    pingEvery = 25000,
    pongWithin = 10000,
    rateLimitedRetry = 1500,
    ackWithin = 10000,
    window = 1,
  } = {}) {
    super();
    this.url = url;
    this.storageKey = storageKey;
    this.userId = userId; // the page's user; a hello for anyone else reloads the page
    this.timing = { base, cap, pingEvery, pongWithin, rateLimitedRetry, ackWithin };
    // Sends written and not yet acknowledged, at most. One keeps them stored
    // in the order they were typed, also across rate limits and reconnects.
    this.window = window;
    this.ws = null;
    this.status = STATUS.CONNECTING;
    this.attempt = 0;
    this.stopped = false;
    this.ready = false; // hello received on the current socket
    this.rooms = new Map(); // room id -> {lastSeq, lastRev, ids: Set of message ids}
    const stored = this.#loadPending();
    // client_id -> send frame, in order
    this.pending = new Map(stored.filter(([, f]) => f.type === "send"));
    // Edits, deletes and reactions until the server has handled them.
    this.changes = new ChangeQueue({
      write: (frame) => this.#write(frame),
      done: (frames) => this.#emit("changesdone", { frames }),
      failed: (frame, code, detail) => this.#emit("changefailed", { frame, code, detail }),
      saved: () => this.#savePending(),
      retryAfter: rateLimitedRetry,
      confirmWithin: ackWithin,
    });
    this.changes.load(stored.filter(([, f]) => CHANGE_TYPES.has(f.type)).map(([, f]) => f));
    this.inflight = new Map(); // client_id -> when it was written
    this.pausedUntil = 0; // after a rate_limited answer no send is written before this
    this.timers = { retry: 0, ping: 0, pong: 0, flush: 0 };
    this.halted = false; // closed with 4403, 4409 or 1009: reconnecting cannot help
    this.sessionRetries = 0; // handshakes left to find a new session after a 4401
    addEventListener("online", () => this.#wake());
    addEventListener("offline", () => this.#setStatus(STATUS.OFFLINE));
    addEventListener("pagehide", () => {
      this.stopped = true;
      this.#drop();
    });
    // A page restored from the back/forward cache comes back without a socket.
    addEventListener("pageshow", (event) => event.persisted && this.#wake());
  }

  connect() {
    this.stopped = false;
    clearTimeout(this.timers.retry);
    this.#drop();
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.ready = false;
    this.changes.reset(); // what an old socket had is written again on this one
    ws.addEventListener("message", (event) => this.#receive(ws, event.data));
    ws.addEventListener("close", (event) => this.#closed(ws, event.code));
    // A socket that opens but never says hello is as good as dead.
    this.timers.pong = setTimeout(() => this.#abandon(ws), this.timing.pongWithin);
  }

  /** Forget the current socket (its events are ignored from now on) and close it. */
  #drop() {
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    clearTimeout(this.timers.ping);
    clearTimeout(this.timers.pong);
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
  }

  /** A silent socket: reconnect now rather than wait out its closing handshake. */
  #abandon(ws) {
    if (ws !== this.ws) return;
    this.#drop();
    this.#closed(null, 1006);
  }

  /** Follow a room. With `afterSeq` the server first sends what came after it;
   * with `afterRev` too, first the changes to older messages since that rev. */
  subscribe(room, { afterSeq = null, afterRev = null } = {}) {
    const state = this.rooms.get(room) ?? { lastSeq: null, lastRev: null, ids: new Set() };
    if (afterSeq !== null && (state.lastSeq === null || afterSeq > state.lastSeq)) {
      state.lastSeq = afterSeq;
    }
    if (afterRev !== null && (state.lastRev === null || afterRev > state.lastRev)) {
      state.lastRev = afterRev;
    }
    this.rooms.set(room, state);
    this.#write(subscribeFrame(room, state));
  }

  unsubscribe(room) {
    this.rooms.delete(room);
    this.#write({ type: "unsubscribe", room });
  }

  /** Queue a message; it is (re)sent until acknowledged. Returns its client_id. */
  send(room, body, { replyTo = null } = {}) {
    const frame = { type: "send", room, body, client_id: newClientId() };
    if (replyTo !== null) frame.reply_to = replyTo;
    this.pending.set(frame.client_id, frame);
    this.#savePending();
    this.#flush();
    return frame.client_id;
  }

  pendingFor(room) {
    return [...this.pending.values()].filter((frame) => frame.room === room);
  }

  discard(clientId) {
    this.pending.delete(clientId);
    this.inflight.delete(clientId);
    this.#savePending();
  }

  history(room, beforeSeq, limit = 50) {
    this.#write({ type: "history", room, before_seq: beforeSeq, limit });
  }

  /** A page of messages centred on a seq (answered by a `history` frame). */
  historyAround(room, seq, limit = 50) {
    return this.#write({ type: "history", room, around_seq: seq, limit });
  }

  edit(room, message, body) {
    return this.#change({ type: "edit", room, message, body });
  }

  delete(room, message) {
    return this.#change({ type: "delete", room, message });
  }

  react(room, message, emoji, on) {
    return this.#change({ type: "react", room, message, emoji, on });
  }

  /** Changes not yet handled by the server, in the order they were made. */
  changesFor(room) {
    return [...this.changes.values()].filter((frame) => frame.room === room);
  }

  typing(room) {
    this.#write({ type: "typing", room });
  }

  read(room, seq) {
    this.#write({ type: "read", room, seq });
  }

  // --- inside ------------------------------------------------------------------

  #write(frame) {
    if (this.ready && this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false; // written again by #resume once the socket is back
  }

  #change(frame) {
    frame.ref = newClientId();
    this.changes.add(frame);
    this.#emit("changequeued", { frame });
    return frame.ref;
  }

  #receive(ws, data) {
    if (ws !== this.ws) return;
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    this.#armPing();
    switch (frame.type) {
      case "hello":
        if (this.userId !== null && frame.user.id !== this.userId) {
          location.reload(); // another user logged in meanwhile: this page is not theirs
          return;
        }
        this.ready = true;
        this.attempt = 0;
        this.sessionRetries = 0;
        this.#setStatus(STATUS.CONNECTED);
        this.#emit("hello", frame);
        this.#resume();
        return;
      case "message":
        this.#seenRev(frame.message);
        if (!this.#accept(frame.message)) return;
        break;
      case "message_updated":
        // Always passed on: the view keeps the copy with the highest rev.
        if (!this.rooms.has(frame.message.room)) return;
        this.#seenRev(frame.message);
        break;
      case "ack":
        this.discard(frame.client_id);
        this.#flush();
        break;
      case "error":
        if (frame.ref && this.pending.has(frame.ref)) {
          this.#sendRefused(frame);
        } else if (frame.ref && this.changes.has(frame.ref)) {
          this.changes.refused(frame);
        } else if (frame.code === "rate_limited") {
          // Too many frames: the server dropped one, maybe a send or a change.
          // Write them again later.
          if (this.inflight.size) {
            this.inflight.clear();
            this.pausedUntil = Date.now() + this.timing.rateLimitedRetry;
            this.#flush();
          }
          this.changes.retryLater();
        }
        break;
      case "pong":
        this.changes.pong();
        return;
      default:
        break;
    }
    this.#emit(frame.type, frame);
  }

  /** The room's highest rev, from `message` and `message_updated` alike: a
   * resume asks for the changes after it. */
  #seenRev(message) {
    const state = this.rooms.get(message.room);
    if (!state || typeof message.rev !== "number") return;
    if (state.lastRev === null || message.rev > state.lastRev) state.lastRev = message.rev;
  }

  /** In order, once: a message at or below the room's last seq was delivered. */
  #accept(message) {
    const state = this.rooms.get(message.room);
    if (!state) return false;
    if (state.ids.has(message.id)) return false;
    if (state.lastSeq !== null && message.seq <= state.lastSeq) return false;
    state.lastSeq = message.seq;
    state.ids.add(message.id);
    if (state.ids.size > 2000) state.ids = new Set([...state.ids].slice(-1000));
    return true;
  }

  #sendRefused(frame) {
    const send = this.pending.get(frame.ref);
    this.inflight.delete(frame.ref);
    if (FINAL_SEND_ERRORS.has(frame.code)) {
      this.discard(frame.ref);
      this.#emit("sendfailed", {
        clientId: frame.ref, room: send.room, code: frame.code, detail: frame.detail,
      });
    } else {
      // rate_limited (or anything passing): wait, then send it again, in order.
      this.pausedUntil = Date.now() + this.timing.rateLimitedRetry;
    }
    this.#flush();
  }

  /** Write queued sends in order, `window` at a time. A send with no answer
   * within ackWithin is written again: the server stores a client_id once,
   * so a repeat can only bring back the same ack. */
  #flush() {
    clearTimeout(this.timers.flush);
    if (this.pending.size === 0) return;
    const now = Date.now();
    if (!this.ready) return; // #resume flushes once the socket is back
    if (now < this.pausedUntil) {
      this.timers.flush = setTimeout(() => this.#flush(), this.pausedUntil - now);
      return;
    }
    for (const [clientId, since] of this.inflight) {
      if (now - since >= this.timing.ackWithin) this.inflight.delete(clientId);
    }
    for (const frame of this.pending.values()) {
      if (this.inflight.size >= this.window) break;
      if (this.inflight.has(frame.client_id)) continue;
      if (!this.#write(frame)) return;
      this.inflight.set(frame.client_id, now);
    }
    this.timers.flush = setTimeout(() => this.#flush(), this.timing.ackWithin);
  }

  /** After hello: resubscribe every room from its last seq, then resend what
   * was never acknowledged. */
  #resume() {
    for (const [room, state] of this.rooms) {
      this.#write(subscribeFrame(room, state));
    }
    this.inflight.clear();
    this.#flush();
    this.changes.flush();
  }

  #closed(ws, code) {
    if (ws !== this.ws) return;
    this.ws = null;
    const greeted = this.ready;
    this.ready = false;
    clearTimeout(this.timers.ping);
    clearTimeout(this.timers.pong);
    if (code === CLOSE_UNAUTHENTICATED) {
      // The session this socket was opened with ended. A password change in
      // another tab of this browser ends it too, but leaves the browser a new
      // session cookie: try the cookie the browser has now, at once and once
      // more a second later (the close can come before the new cookie does),
      // and go to the login page only if neither says hello.
      if (greeted) this.sessionRetries = 2;
      if (this.sessionRetries === 0) {
        goToLogin();
        return;
      }
      this.sessionRetries -= 1;
      this.#setStatus(STATUS.RECONNECTING);
      this.timers.retry = setTimeout(() => this.connect(), greeted ? 0 : 1000);
      return;
    }
    if (code === CLOSE_FORBIDDEN || code === CLOSE_TOO_LARGE || code === CLOSE_TOO_MANY_SOCKETS) {
      this.halted = true;
    }
    if (this.halted || this.stopped) {
      this.#setStatus(STATUS.OFFLINE);
      return;
    }
    if (!navigator.onLine) {
      this.#setStatus(STATUS.OFFLINE); // the "online" event reconnects
      return;
    }
    this.#setStatus(STATUS.RECONNECTING);
    const delay = backoffDelay(this.attempt, this.timing);
    this.attempt += 1;
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  #wake() {
    if (this.halted) return;
    if (this.ws?.readyState === WebSocket.CONNECTING) return;
    if (this.ws?.readyState === WebSocket.OPEN) {
      if (this.ready) this.#setStatus(STATUS.CONNECTED); // it outlived a network blip
      return;
    }
    this.attempt = 0;
    this.#setStatus(STATUS.RECONNECTING);
    this.connect();
  }

  /** A socket that stays silent after a ping is dead: close it and reconnect. */
  #armPing() {
    clearTimeout(this.timers.ping);
    clearTimeout(this.timers.pong);
    this.timers.ping = setTimeout(() => {
      if (!this.#write({ type: "ping" })) return;
      this.changes.pinged();
      const ws = this.ws;
      this.timers.pong = setTimeout(() => this.#abandon(ws), this.timing.pongWithin);
    }, this.timing.pingEvery);
  }

  #setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.#emit("status", status);
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // Unacknowledged sends outlive a reload of the tab.
  #loadPending() {
    if (!this.storageKey) return [];
    try {
      const frames = JSON.parse(sessionStorage.getItem(this.storageKey) ?? "[]");
      return frames
        .filter((f) => f && (f.client_id || f.ref))
        .map((f) => [f.client_id ?? f.ref, f]);
    } catch {
      return [];
    }
  }

  #savePending() {
    if (!this.storageKey) return;
    try {
      const frames = [...this.pending.values(), ...this.changes.values()];
      sessionStorage.setItem(this.storageKey, JSON.stringify(frames));
    } catch {
      // storage full or disabled: the sends still live in memory
    }
  }
}

function subscribeFrame(room, state) {
  const frame = { type: "subscribe", room, after_seq: state.lastSeq };
  if (state.lastSeq !== null && state.lastRev !== null) frame.after_rev = state.lastRev;
  return frame;
}

function goToLogin() {
  const next = encodeURIComponent(location.pathname + location.search);
  location.assign(`/accounts/login/?next=${next}`);
}

function defaultUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/`;
}
