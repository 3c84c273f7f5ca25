// The entry module of every page. A logged-in page opens the tab's one socket
// and wires what the page has: the status light, the bell, the room list,
// a conversation. Pages without a session only get the small enhancements.

import { Bell } from "./bell.js";
import { pageData } from "./render.js";
import { RoomView } from "./room.js";
import { RoomList } from "./rooms.js";
import { RequestsPage } from "./requests.js";
import { MessageSearch } from "./msgsearch.js";
import { PeopleSearch } from "./search.js";
import { ChatSocket } from "./socket.js";

const STATUS_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

function showStatus(socket) {
  const node = document.getElementById("conn-status");
  if (!node) return;
  const label = node.querySelector(".conn-label");
  const show = (state) => {
    node.dataset.state = state;
    label.textContent = STATUS_TEXT[state];
  };
  node.hidden = false;
  show(socket.status);
  socket.addEventListener("status", (event) => show(event.detail));
}

function previewAvatar() {
  const input = document.querySelector('input[type="file"][name="avatar"]');
  const preview = document.getElementById("avatar-preview");
  if (!input || !preview) return;
  let url = null;
  input.addEventListener("change", () => {
    const file = input.files?.[0];
    if (url) URL.revokeObjectURL(url);
    url = null;
    if (!file || !file.type.startsWith("image/")) return;
    url = URL.createObjectURL(file);
    preview.src = url;
    preview.alt = "Preview of your new avatar";
  });
}

// A button with data-copy="<input id>" copies that input's value (a new
// API token); without script the value is still there to select.
function copyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const input = document.getElementById(button.dataset.copy);
    if (!input) continue;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(input.value);
        button.textContent = "Copied";
      } catch {
        input.select(); // no clipboard access: leave it selected to copy by hand
        button.textContent = "Press Ctrl+C";
      }
    });
  }
}

function main() {
  previewAvatar();
  copyButtons();
  const me = pageData("me");
  if (!me) return;
  const socket = new ChatSocket({ storageKey: `chatapp.pending.${me.id}`, userId: me.id });
  window.chatapp = { socket }; // to look at from the browser console
  showStatus(socket);
  const search = document.querySelector("form.search");
  if (search) new PeopleSearch(search);
  const bell = document.getElementById("bell-root");
  if (bell) new Bell(bell, socket);
  const requests = document.getElementById("requests-page");
  if (requests) new RequestsPage(requests, socket);
  const room = pageData("room-data");
  const list = document.getElementById("room-list");
  if (list) {
    new RoomList(list, socket, { current: room?.id ?? null, lobbyIcon: list.dataset.lobbyIcon });
  }
  const conversation = document.getElementById("room");
  if (conversation && room) {
    const view = new RoomView(conversation, socket, me, room, pageData("room-messages", []));
    const messageSearch = document.getElementById("message-search");
    if (messageSearch) {
      messageSearch.hidden = false; // it needs script
      new MessageSearch(messageSearch, view);
    }
  }
  socket.connect();
}

main();
