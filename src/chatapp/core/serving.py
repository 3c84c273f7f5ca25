"""What ``chatapp serve`` asks of uvicorn that the bench's floor must match,
so the two are compared under the same flags."""

WS_MAX_SIZE = 64 * 1024  # PROTOCOL.md: a frame is at most 64 KiB (larger closes with 1009)
LISTEN_BACKLOG = 2048  # connection bursts of load tests and reconnect storms
