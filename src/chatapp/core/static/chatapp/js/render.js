// Building DOM from user data safely: text always goes in as text nodes,
// never as HTML. The only markup made from user text is a link, and only
// for http(s) URLs.

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/giu;
const TRAILING_CHAR = /[.,;:!?)\]}'"»”’]/u;

/** h("a", {className: "x", href: url, text: "label"}, child, ...) */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** User text with its URLs turned into safe links; line breaks are kept by
 * the `white-space: pre-wrap` of the element it goes in. */
export function richText(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const url = trimTrailing(match[0]);
    const href = safeHref(url);
    if (!href) continue;
    fragment.append(text.slice(last, match.index));
    fragment.append(
      h("a", { href, rel: "noopener noreferrer", target: "_blank", text: url }),
    );
    last = match.index + url.length;
  }
  fragment.append(text.slice(last));
  return fragment;
}

/** Punctuation after a URL ends the sentence, not the URL; a closing
 * parenthesis stays when the URL opened one (as Wikipedia's do). */
function trimTrailing(url) {
  let end = url.length;
  while (end > 0 && TRAILING_CHAR.test(url[end - 1])) {
    if (url[end - 1] === ")") {
      const part = url.slice(0, end);
      if (part.split("(").length > part.split(")").length - 1) break;
    }
    end -= 1;
  }
  return url.slice(0, end);
}

function safeHref(text) {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** Close a popup when focus or a click lands outside ``root`` (tabbing away,
 * clicking elsewhere on the page). */
export function closeWhenLeft(root, close) {
  root.addEventListener("focusout", (event) => {
    if (event.relatedTarget && !root.contains(event.relatedTarget)) close();
  });
  document.addEventListener("click", (event) => {
    if (!root.contains(event.target)) close();
  });
}

export function avatar(user, size = "avatar-sm") {
  return h("img", { className: `avatar ${size}`, src: user.avatar, alt: "" });
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium", timeStyle: "short",
});
const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

/** A <time>: the clock time today, the day otherwise; the full date on hover. */
export function timeTag(iso, { now = new Date() } = {}) {
  const when = new Date(iso);
  const sameDay = when.toDateString() === now.toDateString();
  return h("time", {
    datetime: iso,
    title: dateTimeFormat.format(when),
    text: sameDay ? timeFormat.format(when) : dayFormat.format(when),
  });
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

/** fetch() for the JSON API: same-origin cookies, the CSRF header, and an
 * Error carrying the API's error detail when the answer is not 2xx. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    location.assign(`/accounts/login/?next=${encodeURIComponent(location.pathname)}`);
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(data?.error?.detail ?? `The server answered ${response.status}.`);
  }
  return data;
}

/** Read the JSON a template put in the page with Django's json_script. */
export function pageData(id, fallback = null) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : fallback;
}
