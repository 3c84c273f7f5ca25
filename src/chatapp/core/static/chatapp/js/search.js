// The header's people search: suggestions as you type, with "Add friend" in
// place. Enter still submits the form to the full search page.

import { api, avatar, closeWhenLeft, h } from "./render.js";

const WAIT = 250; // ms after the last keystroke
const SHOWN = 8;
const RELATION_TEXT = {
  self: "You",
  friend: "Friend",
  request_sent: "Request sent",
  request_received: "Wants to be your friend",
};

export class PeopleSearch {
  constructor(form) {
    this.form = form;
    this.input = form.querySelector('input[name="q"]');
    this.results = h("ul", { id: "search-results", className: "search-results", hidden: true });
    this.status = h("p", { className: "visually-hidden", role: "status" });
    form.append(this.results, this.status);
    this.input.setAttribute("aria-controls", "search-results");
    this.input.setAttribute("aria-expanded", "false");
    this.timer = 0;
    this.asked = 0; // answers to older questions are ignored

    this.input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.#search(), WAIT);
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.#hide();
    });
    closeWhenLeft(form, () => this.#hide());
  }

  async #search() {
    const query = this.input.value.trim();
    const asked = ++this.asked;
    if (query.length < 2) {
      this.#hide();
      return;
    }
    let found;
    try {
      found = (await api(`/api/users?q=${encodeURIComponent(query)}`)).results;
    } catch (error) {
      if (asked === this.asked) this.#show([h("li", { className: "error", text: error.message })]);
      return;
    }
    if (asked !== this.asked) return;
    const people = found.slice(0, SHOWN);
    this.status.textContent =
      people.length === 0 ? "Nobody found" : `${people.length} found`;
    this.#show(people.length
      ? people.map((person) => this.#item(person))
      : [h("li", { className: "muted", text: `Nobody matches “${query}”.` })]);
  }

  #item(person) {
    const action = person.relation === "none"
      ? h("button", {
        type: "button", className: "small primary", text: "Add friend",
        "aria-label": `Send a friend request to ${person.username}`,
        onclick: (event) => this.#request(person, event.currentTarget),
      })
      : h("span", { className: "muted small", text: RELATION_TEXT[person.relation] ?? "" });
    return h("li", {},
      h("a", { href: `/accounts/u/${encodeURIComponent(person.username)}/` },
        avatar(person), h("span", { text: person.username })),
      action);
  }

  async #request(person, button) {
    button.disabled = true;
    try {
      await api("/api/friend-requests", { method: "POST", body: { to: person.id } });
      button.replaceWith(h("span", { className: "muted small", role: "status", text: "Request sent" }));
    } catch (error) {
      button.replaceWith(h("span", { className: "error small", role: "alert", text: error.message }));
    }
  }

  #show(items) {
    this.results.replaceChildren(...items);
    this.results.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  }

  #hide() {
    this.results.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
  }
}
