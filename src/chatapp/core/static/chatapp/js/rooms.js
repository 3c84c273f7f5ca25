// The list of conversations: the Lobby first, then private chats by latest
// activity, each with its unread count and latest message, kept live by the
// hello, room, room_removed and unread frames.

import { avatar, h, timeTag } from "./render.js";

const PREVIEW = 120; // characters of the latest message, as the server shortens it

export class RoomList {
  constructor(list, socket, { current = null, lobbyIcon = null } = {}) {
    this.list = list;
    this.current = current;
    this.lobbyIcon = lobbyIcon;
    this.rooms = new Map();
    socket.addEventListener("hello", (event) => this.#reset(event.detail.rooms));
    socket.addEventListener("room", (event) => this.#upsert(event.detail.room));
    socket.addEventListener("room_removed", (event) => this.#remove(event.detail.room));
    socket.addEventListener("message", (event) => this.#latest(event.detail.message));
    socket.addEventListener("unread", (event) => {
      const room = this.rooms.get(event.detail.room);
      if (room) this.#upsert({ ...room, unread: event.detail.count });
    });
  }

  #reset(rooms) {
    this.rooms = new Map(rooms.map((room) => [room.id, room]));
    this.#render();
  }

  #upsert(room) {
    this.rooms.set(room.id, room);
    this.#render();
  }

  /** A message of a room this tab follows becomes that room's latest. */
  #latest(message) {
    const room = this.rooms.get(message.room);
    if (!room || message.seq <= room.last_seq) return;
    const body = message.body.length > PREVIEW ? `${message.body.slice(0, PREVIEW - 1)}…` : message.body;
    this.#upsert({
      ...room,
      last_seq: message.seq,
      unread: room.id === this.current ? room.unread : room.unread + 1,
      last_message: { author: message.author.username, body, created_at: message.created_at },
    });
  }

  #remove(roomId) {
    this.rooms.delete(roomId);
    this.#render();
  }

  #render() {
    const ordered = [...this.rooms.values()].sort(byActivity);
    if (ordered.length === 0) {
      this.list.replaceChildren(h("li", { className: "muted empty", text: "No conversations yet." }));
      return;
    }
    // Keep keyboard focus on the same room's link across the rebuild.
    const focused = this.list.contains(document.activeElement)
      ? document.activeElement.closest("li")?.dataset.room : null;
    this.list.replaceChildren(...ordered.map((room) => this.#item(room)));
    if (focused) this.list.querySelector(`li[data-room="${focused}"] a`)?.focus();
  }

  #item(room) {
    const isCurrent = room.id === this.current;
    const unread = isCurrent ? 0 : room.unread;
    const last = room.last_message;
    const picture = room.peer
      ? avatar(room.peer, "avatar-md")
      : h("img", { className: "avatar avatar-md", src: this.lobbyIcon, alt: "" });
    return h("li", { dataset: { room: room.id } },
      h("a", {
        className: "room-link",
        href: room.kind === "public" ? "/" : `/chat/${room.id}/`,
        "aria-current": isCurrent ? "page" : null,
      },
      picture,
      h("span", { className: "room-text" },
        h("span", { className: "room-title", text: room.title }),
        h("span", { className: "room-last", text: last ? `${last.author}: ${last.body}` : "No messages yet" })),
      h("span", { className: "room-side" },
        last ? timeTag(last.created_at) : null,
        unread > 0
          ? h("span", { className: "badge", text: unread > 99 ? "99+" : String(unread),
            "aria-label": `${unread} unread` })
          : null)));
  }
}

function byActivity(a, b) {
  if (a.kind !== b.kind) return a.kind === "public" ? -1 : 1;
  const at = (room) => Date.parse(room.last_message?.created_at ?? "") || 0;
  return at(b) - at(a) || a.id - b.id;
}
