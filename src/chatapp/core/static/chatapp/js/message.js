// A message as the page shows it. Its markup exists once, in
// templates/chat/_message.html: the page renders stored messages with it and
// holds an empty copy in <template id="message-template"> (and a reaction
// chip in #reaction-template), which this module clones and fills with text
// nodes only.

import { richText, timeTag } from "./render.js";

const DELETED_TEXT = "This message was deleted";
const editedFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function cloneTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

/** A new <li> for a message; `changes` are the user's edits, deletes and
 * reactions the server has not handled yet, shown as if done. */
export function messageItem(message, { me, state = "sent", changes = [] }) {
  const item = cloneTemplate("message-template");
  item.classList.toggle("mine", message.author.id === me.id);
  item.dataset.state = state;
  if (message.id) {
    item.dataset.id = message.id;
    item.dataset.seq = message.seq;
  }
  if (message.client_id) item.dataset.clientId = message.client_id;
  item.querySelector(".avatar").src = message.author.avatar;
  item.querySelector(".author").textContent = message.author.username;
  item.querySelector("time").replaceWith(timeTag(message.created_at));
  item.querySelector(".state").textContent = state === "pending" ? "Sending…" : "";
  fillMessage(item, message, { me, changes });
  return item;
}

/** Show the current state of a message in its <li>: body, "(edited)",
 * deleted, the quote it replies to, reactions. */
export function fillMessage(item, message, { me, changes = [] }) {
  const mine = changes.filter((change) => change.message === message.id);
  const shown = withChanges(message, mine, me.id);
  if (message.id) item.dataset.rev = message.rev ?? 0;
  item.dataset.deleted = String(Boolean(shown.deleted));
  if (item.dataset.state === "sent") {
    const state = item.querySelector(".state");
    state.textContent = mine.length ? "Saving…" : "";
    delete state.dataset.error;
  }

  const body = item.querySelector(".body");
  if (shown.deleted) {
    body.textContent = DELETED_TEXT;
  } else {
    const mentionsMe = (shown.mentions ?? []).includes(me.id);
    body.replaceChildren(mentionsMe ? markMentions(richText(shown.body), me.username) : richText(shown.body));
  }

  const edited = item.querySelector(".edited");
  edited.hidden = !shown.edited_at || shown.deleted;
  edited.title = shown.edited_at ? `Edited ${editedFormat.format(new Date(shown.edited_at))}` : "";

  const quote = item.querySelector(".quote");
  const reply = shown.reply_to;
  quote.hidden = !reply;
  if (reply) {
    quote.dataset.seq = reply.seq;
    quote.dataset.id = reply.id;
    quote.querySelector(".quote-author").textContent = reply.author.username;
    const excerpt = quote.querySelector(".quote-excerpt");
    excerpt.textContent = reply.excerpt || "deleted";
    excerpt.classList.toggle("gone", !reply.excerpt);
  }

  const list = item.querySelector(".reactions");
  list.replaceChildren(...(shown.reactions ?? []).map((reaction) => reactionChip(reaction, me.id)));
  list.hidden = list.childElementCount === 0;
}

function reactionChip(reaction, meId) {
  const chip = cloneTemplate("reaction-template");
  const button = chip.querySelector("button");
  const pressed = reaction.users.includes(meId);
  button.dataset.emoji = reaction.emoji;
  button.setAttribute("aria-pressed", String(pressed));
  button.setAttribute("aria-label", `${reaction.emoji} ${reaction.count}`);
  button.title = pressed ? "Take your reaction back" : "React with this too";
  button.querySelector(".emoji").textContent = reaction.emoji;
  button.querySelector(".count").textContent = String(reaction.count);
  return chip;
}

/** The message as it will be once the queued changes are done. */
export function withChanges(message, changes, meId) {
  let shown = message;
  for (const change of changes) {
    if (shown.deleted) break;
    if (change.type === "delete") {
      shown = { ...shown, deleted: true, body: "", reactions: [] };
    } else if (change.type === "edit") {
      shown = { ...shown, body: change.body, edited_at: shown.edited_at ?? new Date().toISOString() };
    } else if (change.type === "react") {
      shown = { ...shown, reactions: reacted(shown.reactions ?? [], change.emoji, change.on, meId) };
    }
  }
  return shown;
}

function reacted(reactions, emoji, on, meId) {
  const found = reactions.find((reaction) => reaction.emoji === emoji);
  const has = Boolean(found?.users.includes(meId));
  if (on === has) return reactions;
  if (on && !found) return [...reactions, { emoji, count: 1, users: [meId] }];
  return reactions
    .map((reaction) => {
      if (reaction.emoji !== emoji) return reaction;
      return on
        ? { ...reaction, count: reaction.count + 1, users: [...reaction.users, meId] }
        : { ...reaction, count: reaction.count - 1, users: reaction.users.filter((id) => id !== meId) };
    })
    .filter((reaction) => reaction.count > 0);
}

/** Wrap each "@username" naming `username` (any case) in <mark>, in the
 * text nodes of `fragment` outside links. */
function markMentions(fragment, username) {
  const pattern = new RegExp(`(?<![\\w.@+-])@${escapeRegExp(username)}(?![\\w@+-])`, "giu");
  const walker = document.createTreeWalker(fragment, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) {
    if (!walker.currentNode.parentElement?.closest("a")) texts.push(walker.currentNode);
  }
  for (const text of texts) {
    const value = text.nodeValue;
    const parts = [];
    let last = 0;
    for (const match of value.matchAll(pattern)) {
      parts.push(value.slice(last, match.index));
      const mark = document.createElement("mark");
      mark.className = "mention";
      mark.textContent = match[0];
      parts.push(mark);
      last = match.index + match[0].length;
    }
    if (parts.length) text.replaceWith(...parts, value.slice(last));
  }
  return fragment;
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/gu, "\\$&");
}

/** The reply_to a reply to this message will carry. */
export function quoteOf(message) {
  return {
    id: message.id, seq: message.seq, author: message.author,
    excerpt: message.deleted ? "" : message.body.slice(0, 120),
  };
}
