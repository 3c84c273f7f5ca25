// Functions of loadtest/artillery.yml (docs/loadtest.md): the token on the
// handshake, the Lobby subscription, client_ids, and the figures Artillery's
// WebSocket engine cannot take by itself (it matches replies one step at a
// time, while acks and messages here arrive whenever they come).
//
// Metrics (in Artillery's report and in the --output JSON):
//   chatapp.subscribe        histogram, ms from the subscribe frame to `subscribed`
//   chatapp.send_to_ack      histogram, ms from a send to its `ack` (stored)
//   chatapp.send_to_receive  histogram, ms from a send to the user's own message
//                            coming back as a `message` frame
//   chatapp.acks, chatapp.received                      counters of the above
//   chatapp.ack_timeouts, chatapp.receive_timeouts      counters, nothing within replyTimeout
//   chatapp.send_errors      counter, `error` frames about a send (also errors.chatapp_<code>)
'use strict';

const crypto = require('node:crypto');

module.exports = {
  connectWithToken,
  subscribeToLobby,
  waitForFirstSend,
  nextClientId,
  awaitReplies
};

// http(s)://host[:port] (or ws(s)://...) -> ws(s)://host[:port]/ws/
function socketUrl(target) {
  const url = new URL(target);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  url.pathname = '/ws/';
  return url.toString();
}

function httpBase(target) {
  const url = new URL(target);
  if (url.protocol === 'ws:') url.protocol = 'http:';
  if (url.protocol === 'wss:') url.protocol = 'https:';
  return url.origin;
}

function authorization(context) {
  return { Authorization: `Bearer ${context.vars.token}` };
}

// connect.function: the engine hands us the arguments of `new WebSocket(...)`.
// A fresh options object each time: the engine's may be shared between users.
function connectWithToken(wsArgs, context, done) {
  context.vars.httpBase = httpBase(wsArgs.target);
  wsArgs.target = socketUrl(wsArgs.target);
  wsArgs.options = {
    ...wsArgs.options,
    headers: { ...(wsArgs.options && wsArgs.options.headers), ...authorization(context) }
  };
  done();
}

// The Lobby's id comes from GET /api/rooms rather than from `hello`: the
// engine attaches nothing to the socket before the first step runs, so a
// `hello` that arrives with the handshake's answer would be lost. It is the
// same room for every user, so each Artillery worker asks once.
let lobbyLookup = null;

function lobbyId(context) {
  if (lobbyLookup === null) {
    lobbyLookup = fetch(`${context.vars.httpBase}/api/rooms`, { headers: authorization(context) })
      .then((response) => {
        if (!response.ok) throw new Error(`GET /api/rooms: ${response.status}`);
        return response.json();
      })
      .then((body) => {
        const lobby = body.results.find((room) => room.kind === 'public');
        if (!lobby) throw new Error('GET /api/rooms: no public room');
        return lobby.id;
      });
    lobbyLookup.catch(() => {
      lobbyLookup = null; // the next user asks again
    });
  }
  return lobbyLookup;
}

// The functions below are async: the engine fails the virtual user when one
// rejects (it ignores the error of a callback-style function).

async function subscribeToLobby(context, events) {
  const state = {
    awaitingAck: new Map(), // client_id -> Date.now() at send
    awaitingEcho: new Map(),
    subscribed: null
  };
  context.chatapp = state;
  context.ws.on('message', (data) => handleFrame(state, events, data));
  context.vars.lobby = await lobbyId(context);
  const started = Date.now();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('no subscribed frame')),
      context.vars.replyTimeout * 1000
    );
    state.subscribed = () => {
      clearTimeout(timer);
      resolve();
    };
    const subscribe = { type: 'subscribe', room: context.vars.lobby, after_seq: null };
    context.ws.send(JSON.stringify(subscribe));
  });
  events.emit('histogram', 'chatapp.subscribe', Date.now() - started);
}

function handleFrame(state, events, data) {
  let frame;
  try {
    frame = JSON.parse(data);
  } catch (err) {
    events.emit('error', 'chatapp_not_json');
    return;
  }
  const now = Date.now();
  if (frame.type === 'subscribed' && state.subscribed) {
    state.subscribed();
    state.subscribed = null;
  } else if (frame.type === 'ack') {
    const sent = state.awaitingAck.get(frame.client_id);
    if (sent !== undefined) {
      state.awaitingAck.delete(frame.client_id);
      events.emit('histogram', 'chatapp.send_to_ack', now - sent);
      events.emit('counter', 'chatapp.acks', 1);
    }
  } else if (frame.type === 'message') {
    const clientId = frame.message.client_id;
    const sent = state.awaitingEcho.get(clientId);
    if (sent !== undefined) {
      state.awaitingEcho.delete(clientId);
      events.emit('histogram', 'chatapp.send_to_receive', now - sent);
      events.emit('counter', 'chatapp.received', 1);
    }
  } else if (frame.type === 'error') {
    if (state.awaitingAck.delete(frame.ref)) {
      state.awaitingEcho.delete(frame.ref);
      events.emit('counter', 'chatapp.send_errors', 1);
    }
    events.emit('error', `chatapp_${frame.code}`);
  }
}

// The first send at a random point of the send interval, not on arrival:
// users that arrive together would otherwise send together ever after.
async function waitForFirstSend(context) {
  await new Promise((resolve) => {
    setTimeout(resolve, Math.random() * context.vars.sendInterval * 1000);
  });
}

// Before each send: a fresh client_id, and the moment it leaves.
function nextClientId(context, events, done) {
  const clientId = `${context.vars.username}.${crypto.randomBytes(6).toString('hex')}`;
  context.vars.clientId = clientId;
  const now = Date.now();
  context.chatapp.awaitingAck.set(clientId, now);
  context.chatapp.awaitingEcho.set(clientId, now);
  done();
}

// After the last send: wait for the outstanding acks and echoes, then count
// what never came; any missing reply fails this virtual user.
async function awaitReplies(context, events) {
  const state = context.chatapp;
  const deadline = Date.now() + context.vars.replyTimeout * 1000;
  const open = () => context.ws.readyState === context.ws.OPEN;
  while (state.awaitingAck.size + state.awaitingEcho.size > 0 && Date.now() < deadline && open()) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const acks = state.awaitingAck.size;
  const echoes = state.awaitingEcho.size;
  if (acks + echoes > 0) {
    events.emit('counter', 'chatapp.ack_timeouts', acks);
    events.emit('counter', 'chatapp.receive_timeouts', echoes);
    throw new Error(`${acks} acks and ${echoes} messages missing`);
  }
}
