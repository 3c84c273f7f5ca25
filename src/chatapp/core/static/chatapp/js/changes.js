// The socket's queue of changes to messages: edit, delete and react frames,
// each with a `ref`, kept in the order they were made until the server has
// handled them (also across reconnects; socket.js stores them with the sends).
//
// A change has no answer of its own. The queue writes a ping after the
// changes it writes: the server handles a socket's frames in order, so that
// ping's pong means each was handled (an `error` with its ref comes first if
// it was refused). Writing a change again is harmless, since each sets a state
// (a body, deleted, a reaction on or off): whatever was not confirmed is
// written again on the next socket, or after a rate limit.

export const CHANGE_TYPES = new Set(["edit", "delete", "react"]);
export const FINAL_CHANGE_ERRORS = new Set([
  "invalid", "too_large", "forbidden", "not_found", "not_author", "edit_window",
]);

export class ChangeQueue {
  /** `write(frame)` writes to the current socket (false when there is none);
   * `done(frames)`, `failed(frame, code, detail)` and `saved()` report. */
  constructor({ write, done, failed, saved, retryAfter = 1500, confirmWithin = 10000 }) {
    this.io = { write, done, failed, saved };
    this.timing = { retryAfter, confirmWithin };
    this.frames = new Map(); // ref -> frame, in order
    this.timer = 0;
    this.pausedUntil = 0;
    this.reset();
  }

  /** A new socket: pings and pongs count from zero, nothing is written yet. */
  reset() {
    this.written = []; // refs written on this socket, waiting for the barrier
    this.barrier = 0; // the ping count whose pong confirms `written`
    this.pings = 0; // pings written on this socket (keepalives too)
    this.pongs = 0;
    clearTimeout(this.timer);
  }

  load(frames) {
    for (const frame of frames) this.frames.set(frame.ref, frame);
  }

  add(frame) {
    this.frames.set(frame.ref, frame);
    this.io.saved();
    this.flush();
  }

  has(ref) {
    return this.frames.has(ref);
  }

  get size() {
    return this.frames.size;
  }

  values() {
    return this.frames.values();
  }

  /** Write what this socket has not had yet, then the ping that confirms it. */
  flush() {
    if (this.frames.size === 0) return;
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.flush(), wait);
      return;
    }
    const written = new Set(this.written);
    let wrote = false;
    for (const frame of this.frames.values()) {
      if (written.has(frame.ref)) continue;
      if (!this.io.write(frame)) return;
      this.written.push(frame.ref);
      wrote = true;
    }
    if (!wrote || !this.io.write({ type: "ping" })) return;
    this.pinged();
    this.barrier = this.pings;
    // No pong (the ping itself was refused as too many frames): write them again.
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.written = [];
      this.flush();
    }, this.timing.confirmWithin);
  }

  /** Every ping written on the socket, so pongs can be matched to them. */
  pinged() {
    this.pings += 1;
  }

  pong() {
    this.pongs += 1;
    if (this.pongs < this.barrier || this.written.length === 0) return;
    clearTimeout(this.timer);
    const frames = this.written.map((ref) => this.frames.get(ref)).filter(Boolean);
    for (const ref of this.written) this.frames.delete(ref);
    this.written = [];
    this.io.saved();
    this.io.done(frames);
    this.flush(); // those made meanwhile
  }

  /** An error frame with one of our refs. */
  refused({ ref, code, detail }) {
    const frame = this.frames.get(ref);
    if (FINAL_CHANGE_ERRORS.has(code)) {
      this.frames.delete(ref);
      this.written = this.written.filter((other) => other !== ref);
      this.io.saved();
      this.io.failed(frame, code, detail);
    } else {
      this.retryLater(); // rate_limited, unavailable
    }
  }

  /** The server dropped a frame (too many): write everything unconfirmed again. */
  retryLater() {
    if (this.written.length === 0) return;
    this.written = [];
    this.barrier = 0;
    this.pausedUntil = Date.now() + this.timing.retryAfter;
    this.flush();
  }
}
