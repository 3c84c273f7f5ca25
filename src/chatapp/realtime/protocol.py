"""What the transport adds to the frames of ``chatapp.wire``: the close codes
of PROTOCOL.md and the error a frame handler raises.

A frame never kills a socket: whatever a client sends (numbers beyond 64 bits,
JSON nested thousands deep, NUL characters or lone surrogates in strings)
fails to decode into its wire type and becomes an ``error`` frame, and the
socket goes on."""

from __future__ import annotations

from chatapp import wire

# Close codes.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_TOO_MANY_SOCKETS = 4409  # added by this server: the user opened newer ones
CLOSE_TOO_LARGE = 1009
CLOSE_RESTARTING = 1012


class FrameError(Exception):
    """A client frame that cannot be acted on; becomes an ``error`` frame."""

    def __init__(self, code: str, detail: str, ref: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.ref = ref

    def frame(self) -> wire.ErrorFrame:
        return wire.ErrorFrame(code=self.code, detail=self.detail, ref=self.ref)
