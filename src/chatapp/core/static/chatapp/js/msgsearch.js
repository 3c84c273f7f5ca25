// Message search on a conversation page: GET /api/search over every room the
// user reads, newest first, "More results" pages on. The server marks each
// match in `highlight` with [[ and ]]; they become <mark> around text nodes.
// Opening a result shows its room around that message (room.js pages both
// ways from there); a result of another room opens that room's page there.

import { api, closeWhenLeft, h, timeTag } from "./render.js";

const PAGE = 20;

/** "a [[b]] c" as text nodes, with each [[…]] in a <mark>. */
export function highlighted(text) {
  const fragment = document.createDocumentFragment();
  let rest = text;
  while (rest) {
    const open = rest.indexOf("[[");
    const close = open === -1 ? -1 : rest.indexOf("]]", open + 2);
    if (open === -1 || close === -1) {
      fragment.append(rest);
      break;
    }
    fragment.append(rest.slice(0, open), h("mark", { text: rest.slice(open + 2, close) }));
    rest = rest.slice(close + 2);
  }
  return fragment;
}

export class MessageSearch {
  constructor(form, view) {
    this.form = form;
    this.view = view;
    this.input = form.querySelector('input[name="q"]');
    this.panel = form.querySelector("#message-search-panel");
    this.list = this.panel.querySelector("ol");
    this.status = this.panel.querySelector("[role=status]");
    this.more = this.panel.querySelector(".more");
    this.query = "";
    this.lastId = null;
    this.asked = 0;

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#search(this.input.value.trim(), null);
    });
    this.more.addEventListener("click", () => this.#search(this.query, this.lastId));
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        this.#hide();
        this.input.focus();
      }
    });
    this.list.addEventListener("click", (event) => {
      const link = event.target.closest("a[data-room]");
      if (!link || Number(link.dataset.room) !== this.view.room.id) return;
      event.preventDefault(); // this room: no page load
      this.#hide();
      this.view.showMessage(Number(link.dataset.id), Number(link.dataset.seq));
    });
    closeWhenLeft(form, () => this.#hide());
  }

  async #search(query, before) {
    if (!query) return;
    const asked = ++this.asked;
    const params = new URLSearchParams({ q: query, limit: PAGE });
    if (before !== null) params.set("before", before);
    let page;
    try {
      page = await api(`/api/search?${params}`);
    } catch (error) {
      if (asked !== this.asked) return;
      this.list.replaceChildren();
      this.#show(error.message, false);
      return;
    }
    if (asked !== this.asked) return;
    if (before === null) this.list.replaceChildren();
    this.query = query;
    this.list.append(...page.results.map((result) => this.#result(result)));
    this.lastId = page.results.at(-1)?.id ?? this.lastId;
    const count = this.list.childElementCount;
    this.#show(count === 0 ? `No message matches “${query}”.`
      : `${count}${page.has_more ? "+" : ""} found`, page.has_more);
  }

  #result(result) {
    return h("li", {},
      h("a", {
        href: roomUrl(result.room, result.seq),
        dataset: { room: result.room, id: result.id, seq: result.seq },
      },
      h("span", { className: "result-meta small" },
        h("span", { className: "author", text: result.author.username }),
        " in ",
        h("span", { text: roomTitle(result.room) }),
        " · ",
        timeTag(result.created_at)),
      h("span", { className: "result-text" }, highlighted(result.highlight))));
  }

  #show(text, more) {
    this.status.textContent = text;
    this.more.hidden = !more;
    this.panel.hidden = false;
  }

  #hide() {
    this.panel.hidden = true;
  }
}

/** The room's title as the room list beside the conversation shows it. */
function roomTitle(roomId) {
  return document.querySelector(`#room-list [data-room="${roomId}"] .room-title`)
    ?.textContent ?? "a conversation";
}

function roomUrl(roomId, seq) {
  const link = document.querySelector(`#room-list [data-room="${roomId}"] a`);
  const base = link?.getAttribute("href") ?? `/chat/${roomId}/`;
  return `${base}?around=${seq}`;
}
