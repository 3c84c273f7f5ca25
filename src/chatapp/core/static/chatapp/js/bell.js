// The notification bell: a badge kept live by the socket, and a dropdown that
// lists the latest notifications and answers friend requests in place.

import { api, avatar, closeWhenLeft, h, timeTag } from "./render.js";

export class Bell {
  constructor(root, socket) {
    this.button = root.querySelector("#bell");
    this.badge = root.querySelector("#bell-badge");
    this.panel = root.querySelector("#bell-panel");
    this.list = root.querySelector("#bell-list");
    this.root = root;
    this.unread = Number(this.badge.textContent) || 0;
    this.button.setAttribute("role", "button");
    this.button.setAttribute("aria-haspopup", "dialog");
    this.button.setAttribute("aria-expanded", "false");
    this.#setUnread(this.unread);

    socket.addEventListener("hello", (e) => this.#setUnread(e.detail.notifications_unread));
    socket.addEventListener("notifications_unread", (e) => this.#setUnread(e.detail.unread));
    socket.addEventListener("notification", (e) => this.#arrived(e.detail));

    this.button.addEventListener("click", (event) => {
      event.preventDefault();
      this.panel.hidden ? this.open() : this.close();
    });
    this.button.addEventListener("keydown", (event) => {
      if (event.key === " ") {
        event.preventDefault();
        this.button.click();
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.panel.hidden) {
        this.close();
        this.button.focus();
      }
    });
    closeWhenLeft(root, () => this.close());
  }

  async open() {
    this.panel.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.list.replaceChildren(h("li", { className: "muted empty", text: "Loading…" }));
    try {
      const [page, requests] = await Promise.all([
        api("/api/notifications"),
        api("/api/friend-requests"),
      ]);
      this.incoming = new Map(requests.incoming.map((r) => [r.from.id, r]));
      this.list.replaceChildren(...page.results.map((n) => this.#item(n)));
      if (page.results.length === 0) {
        this.list.append(h("li", { className: "muted empty", text: "Nothing yet." }));
      }
      const newest = page.results[0];
      if (newest && page.unread > 0 && !this.panel.hidden) {
        const { unread } = await api("/api/notifications/read", {
          method: "POST", body: { up_to: newest.id },
        });
        this.#setUnread(unread);
      }
    } catch (error) {
      this.list.replaceChildren(h("li", { className: "error", text: error.message }));
    }
  }

  close() {
    this.panel.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
  }

  #arrived({ notification, unread }) {
    this.#setUnread(unread);
    if (this.panel.hidden) return;
    this.list.querySelector(":scope > li.empty")?.remove();
    const show = () => {
      // A private-message notification is updated in place: one entry per id.
      this.list.querySelector(`:scope > li[data-id="${notification.id}"]`)?.remove();
      this.list.prepend(this.#item(notification));
    };
    const open = async () => {
      // A friend request that arrives while the dropdown is open can be answered at once.
      const requests = await api("/api/friend-requests");
      this.incoming = new Map(requests.incoming.map((r) => [r.from.id, r]));
      show();
    };
    open().catch(show);
  }

  #setUnread(count) {
    this.unread = count;
    this.badge.textContent = count > 99 ? "99+" : String(count);
    this.badge.hidden = count === 0;
    this.button.setAttribute("aria-label",
      count === 0 ? "Notifications" : `Notifications, ${count} unread`);
  }

  #item(notification) {
    const item = h("li", {
      className: notification.read ? "notification" : "notification unread",
      dataset: { id: notification.id },
    },
      notification.actor ? avatar(notification.actor) : null,
      h("div", { className: "notification-main" },
        h("a", { href: localHref(notification.url), text: notification.text }),
        h("div", { className: "muted small" }, timeTag(notification.created_at))));
    const request = notification.kind === "friend_request" && notification.actor
      ? this.incoming?.get(notification.actor.id) : null;
    if (request) item.querySelector(".notification-main").append(this.#answer(request));
    return item;
  }

  #answer(request) {
    const row = h("div", { className: "actions" });
    const reply = async (action) => {
      row.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      try {
        await api(`/api/friend-requests/${request.id}/${action}`, { method: "POST" });
        this.incoming.delete(request.from.id);
        row.replaceChildren(h("span", {
          className: "muted", role: "status",
          text: action === "accept"
            ? `You and ${request.from.username} are now friends.` : "Request declined.",
        }));
      } catch (error) {
        row.replaceChildren(h("span", { className: "error", role: "alert", text: error.message }));
      }
    };
    row.append(
      h("button", { type: "button", className: "primary small", text: "Accept",
        "aria-label": `Accept friend request from ${request.from.username}`,
        onclick: () => reply("accept") }),
      h("button", { type: "button", className: "small", text: "Decline",
        "aria-label": `Decline friend request from ${request.from.username}`,
        onclick: () => reply("decline") }),
    );
    return row;
  }
}

/** Notification links stay on this site. */
function localHref(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//")
    ? url : "/notifications/";
}
