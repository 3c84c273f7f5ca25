"""Every Prometheus metric family the server exports, in one place.

docs/operations.md says what each one means and which alerts to set on it;
deploy/grafana/chatapp.json graphs them. Labels only ever take values from a
short closed set (a frame type, a close code, an HTTP status): never a user,
a room, a message or anything a client typed.

Under ``chatapp serve`` each worker process writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode, prepared
by ``chatapp.core.metrics_dir``), and ``/metrics`` on any worker sums every
worker's. Gauges count only live workers: the files of a dead one are dropped.
Without that variable (one process, tests) the values live in memory.

Counting costs a lock and a write to a memory-mapped file per ``inc``, so the
fan-out counts its sockets in a plain int and adds them once per message.
"""

from __future__ import annotations

import typing

from prometheus_client import Counter, Gauge, Histogram

from chatapp import wire

# Latencies of a stored message's ack and of an HTTP answer, from 1 ms to 10 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# --- sockets ---------------------------------------------------------------------

WS_CONNECTIONS = Gauge(
    "chatapp_ws_connections",
    "Open sockets that were greeted (authenticated), summed over live workers.",
    multiprocess_mode="livesum",
)
WS_SUBSCRIPTIONS = Gauge(
    "chatapp_ws_subscriptions",
    "Room subscriptions held by open sockets, summed over live workers.",
    multiprocess_mode="livesum",
)
WS_CONNECTS = Counter("chatapp_ws_connects_total", "Sockets accepted and greeted.")
WS_DISCONNECTS = Counter(
    "chatapp_ws_disconnects_total",
    "Greeted sockets that ended, by close code (codes outside the known set count as other).",
    ["code"],
)
WS_FRAMES_IN = Counter(
    "chatapp_ws_frames_in_total",
    "Frames received from clients, by frame type (invalid: not a frame of the protocol; "
    "over_limit: refused by the per-socket frame rate, unread).",
    ["type"],
)
WS_FRAMES_OUT = Counter(
    "chatapp_ws_frames_out_total", "Frames handed to sockets, of every type, fan-out included."
)
DELIVERIES = Counter(
    "chatapp_deliveries_total",
    "Message frames handed to subscribed sockets: live fan-out and catch-up from the database.",
)
RESUMES = Counter(
    "chatapp_resumes_total", "Subscribes that resumed from a seq the client had (after_seq given)."
)
GAP_FILLS = Counter(
    "chatapp_gap_fills_total",
    "Catch-ups from the database a socket started because live messages skipped a seq.",
)
OUTBOX_OVERFLOWS = Counter(
    "chatapp_outbox_overflows_total",
    "Sockets closed with 4408 because their client did not read fast enough.",
)

# --- the chat ---------------------------------------------------------------------

MESSAGES_STORED = Counter("chatapp_messages_stored_total", "Messages stored (new, not repeats).")
SEND_ACK_SECONDS = Histogram(
    "chatapp_send_ack_seconds",
    "From a send frame read to its ack queued: checks, rate limit, insert, publish.",
    buckets=LATENCY_BUCKETS,
)

# --- the channel layer ------------------------------------------------------------

LAYER_ERRORS = Counter(
    "chatapp_layer_errors_total", "Channel-layer or Redis calls of the hub that failed."
)
# "Down" rather than "up": every process that imports this module has the gauge
# at 0 (the server's main process too), and the highest of them is what counts.
LAYER_DOWN = Gauge(
    "chatapp_layer_down",
    "1 while a live worker has lost the channel layer (Redis), else 0.",
    multiprocess_mode="livemax",
)

# --- HTTP -------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "chatapp_http_requests_total", "HTTP requests answered, by status.", ["status"]
)
HTTP_REQUEST_SECONDS = Histogram(
    "chatapp_http_request_seconds",
    "From an HTTP request's start to the end of its answer.",
    buckets=LATENCY_BUCKETS,
)

# --- closed label sets --------------------------------------------------------------

# Close codes of PROTOCOL.md and of RFC 6455 a client or this server uses; any
# other code a client picks is "other", so a client cannot grow the series.
CLOSE_CODES = (1000, 1001, 1006, 1009, 1011, 1012, 1013, 4401, 4403, 4408, 4409)
_disconnects = {code: WS_DISCONNECTS.labels(str(code)) for code in CLOSE_CODES}
_disconnects_other = WS_DISCONNECTS.labels("other")

FRAME_INVALID = "invalid"
FRAME_OVER_LIMIT = "over_limit"
_frames_in = {
    frame_type: WS_FRAMES_IN.labels(frame_type.__struct_config__.tag)
    for frame_type in typing.get_args(wire.AnyClientFrame)
}
_frames_in_invalid = WS_FRAMES_IN.labels(FRAME_INVALID)
_frames_in_over_limit = WS_FRAMES_IN.labels(FRAME_OVER_LIMIT)


def disconnected(code: int) -> None:
    _disconnects.get(code, _disconnects_other).inc()


def frame_in(frame_type: type[wire.ClientFrame] | None, *, over_limit: bool = False) -> None:
    """Count a client frame: its type, or None when it did not decode."""
    if over_limit:
        _frames_in_over_limit.inc()
    elif frame_type is None:
        _frames_in_invalid.inc()
    else:
        _frames_in.get(frame_type, _frames_in_invalid).inc()


def http_answered(status: int, seconds: float) -> None:
    # The status comes from the server, but keep it three digits whatever happens.
    HTTP_REQUESTS.labels(str(status) if 100 <= status <= 599 else "other").inc()
    HTTP_REQUEST_SECONDS.observe(seconds)
