// The friend requests page, kept live: a request sent, cancelled or answered
// elsewhere shows here at once, and each can be answered in place.

import { api, avatar, h } from "./render.js";

const KINDS = new Set(["friend_request", "friend_cancelled", "friend_accepted", "friend_declined"]);
const ANSWERS = {
  incoming: [["accept", "Accept", "primary"], ["decline", "Decline", ""]],
  outgoing: [["cancel", "Cancel", ""]],
};

export class RequestsPage {
  constructor(root, socket) {
    this.lists = {
      incoming: root.querySelector("#requests-incoming"),
      outgoing: root.querySelector("#requests-outgoing"),
    };
    this.status = root.querySelector("#requests-status");
    socket.addEventListener("notification", (event) => {
      if (KINDS.has(event.detail.notification.kind)) this.refresh();
    });
  }

  async refresh() {
    try {
      const requests = await api("/api/friend-requests");
      for (const side of ["incoming", "outgoing"]) {
        const items = requests[side].map((request) => this.#item(side, request));
        this.lists[side].replaceChildren(
          ...(items.length ? items : [h("li", { className: "muted", text: "None." })]));
      }
    } catch (error) {
      this.status.textContent = error.message;
    }
  }

  #item(side, request) {
    const person = side === "incoming" ? request.from : request.to;
    const actions = h("span", { className: "actions" });
    for (const [action, label, style] of ANSWERS[side]) {
      actions.append(h("button", {
        type: "button", className: style, text: label,
        "aria-label": `${label} the request ${side === "incoming" ? "from" : "to"} ${person.username}`,
        onclick: () => this.#answer(request, action, person),
      }));
    }
    return h("li", { dataset: { request: request.id } },
      avatar(person),
      h("a", { href: `/accounts/u/${encodeURIComponent(person.username)}/`, text: person.username }),
      actions);
  }

  async #answer(request, action, person) {
    try {
      await api(`/api/friend-requests/${request.id}/${action}`, { method: "POST" });
      this.status.textContent = action === "accept"
        ? `You and ${person.username} are now friends.`
        : action === "decline" ? "Request declined." : "Request cancelled.";
    } catch (error) {
      this.status.textContent = error.message;
    }
    await this.refresh();
  }
}
