"""Slow and non-reading clients never hold the service hostage (issue 14, defect 8).

uvicorn reads headers and bodies for as long as a client cares to send them, keeps a
connection that has sent nothing forever, and lets a client that reads nothing keep a
stream (and its buffers) open. These protocol classes, given to uvicorn as `http` and
`ws`, bound each of those from the agreement's `[line]`:

* `connections_per_address`: one address may hold that many connections at once; the
  next is answered 429 and closed before a byte of it is read.
* `header_timeout_s`: a request's headers must be whole within that long of the
  connection or of the request's first byte; else 408 and the connection is closed.
* `body_timeout_s`: a request body may pause that long between reads; else 408, close
  (the handler waiting for it sees the client gone, never logs a traceback).
* `stall_timeout_s`: when the client leaves what it is sent unread (the transport's
  write buffer over its high-water mark) for that long, the connection is dropped: a
  WebSocket gets close 4408 with the reason, an SSE stream a last comment, both
  written behind what is already queued, and the socket is aborted 2 s later if the
  client still reads nothing. Memory per stuck client is then bounded by the
  transport's buffer, and the engine (which only sets flags) never waits for anyone.

A WebSocket frame larger than `FRAGMENT_BYTES` is written as fragments of that size,
each once the client has read enough of the one before, from the bytes the stream was
given (`SHARED_UTF8`: one view's picture frame, encoded once for all its streams). So a
stream that reads nothing holds at most the transport's high-water mark and one fragment
of copies, whatever the frame's size, until it is dropped; before, each held the rest of
a whole picture frame and the next one it was given (issue 14, defect 8).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState

log = logging.getLogger("sharedsky.service")
#: A `websocket.send` message may also carry its text encoded, under this key: the guarded
#: protocol writes those bytes (shared by every stream of a view) instead of encoding again.
SHARED_UTF8 = "sharedsky.utf8"
#: WebSocket frames larger than this go out in fragments of this size (RFC 6455, 5.4).
FRAGMENT_BYTES = 64 * 1024
#: After a drop was announced, the client has this long to read it before the socket is aborted.
ABORT_AFTER_S = 2.0
SSE_PATH = "/api/v1/events/stream"
STALL_CLOSE_CODE = 4408


def _raw_answer(status: int, reason: str, detail: str, retry_after_s: int | None = None) -> bytes:
    """A whole HTTP/1.1 answer that closes the connection (written before or instead of h11's)."""
    body = json.dumps({"detail": detail}).encode()
    extra = f"Retry-After: {retry_after_s}\r\n" if retry_after_s is not None else ""
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"{extra}connection: close\r\n\r\n").encode() + body


class AddressCount:
    """Open connections (their transports) per client address, shared by the protocols."""

    def __init__(self, per_address: int) -> None:
        self.per_address = per_address
        self.open: dict[str, set[Any]] = {}

    def admit(self, address: str, transport: Any) -> bool:
        held = self.open.setdefault(address, set())
        if len(held) >= self.per_address:
            return False
        held.add(transport)
        return True

    def release(self, address: str, transport: Any) -> None:
        held = self.open.get(address)
        if held is not None:
            held.discard(transport)
            if not held:
                del self.open[address]


def _reset(transport: Any) -> None:
    """Abort the connection with a reset: what the kernel still holds for the client is freed
    at once, instead of lingering while it retries to a peer that reads nothing."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()  # nothing if it is already lost


def _peer(transport: Any) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, (tuple, list)) and peer else str(peer)


def guarded_protocols(line: Any) -> tuple[type[asyncio.Protocol], type[asyncio.Protocol]]:
    """uvicorn's HTTP (h11) and WebSocket protocols with the `[line]` bounds above."""
    count = AddressCount(int(line.connections_per_address))
    header_s, body_s, stall_s = float(line.header_timeout_s), float(line.body_timeout_s), float(line.stall_timeout_s)

    class GuardedWebSocket(WebSocketsSansIOProtocol):
        """A WebSocket that is dropped when it reads nothing for `stall_s`; releases its address."""

        _stall: asyncio.TimerHandle | None = None

        def pause_writing(self) -> None:
            super().pause_writing()
            if self._stall is None:
                self._stall = self.loop.call_later(stall_s, self._stalled)

        def resume_writing(self) -> None:
            super().resume_writing()
            if self._stall is not None:
                self._stall.cancel()
                self._stall = None

        def _stalled(self) -> None:
            self._stall = None
            if self.disconnected:
                return
            log.info("dropping WebSocket %s: read nothing for %.0f s", self.client, stall_s)
            if not self.close_sent:
                try:
                    self.conn.send_close(STALL_CLOSE_CODE, f"too slow: read nothing for {stall_s:g} s; "
                                                           "reconnect with after=<the last seq you hold>")
                    self.transport.write(b"".join(self.conn.data_to_send()))
                except Exception:  # the connection is going anyway
                    pass
                self.close_sent = True
            self.transport.close()
            self.loop.call_later(ABORT_AFTER_S, self._abort)

        def _abort(self) -> None:
            _reset(self.transport)

        async def send(self, message: Any) -> None:
            data = message.get(SHARED_UTF8) if message.get("type") == "websocket.send" else None
            if data is None and message.get("type") == "websocket.send" and message.get("bytes") is None:
                text = message.get("text")
                if isinstance(text, str) and len(text) > FRAGMENT_BYTES:
                    data = text.encode()
            if data is None or len(data) <= FRAGMENT_BYTES or not self.handshake_complete \
                    or self.initial_response is not None:
                await super().send(message)
                return
            await self._send_fragments(memoryview(data))

        async def _send_fragments(self, data: memoryview) -> None:
            """One text message as fragments, each written once the transport has drained below
            its high-water mark: at most one fragment of it is ever copied into the transport."""
            for off in range(0, len(data), FRAGMENT_BYTES):
                await self.writable.wait()
                if self.disconnected or self.close_sent:
                    raise ClientDisconnected()
                part, fin = data[off:off + FRAGMENT_BYTES], off + FRAGMENT_BYTES >= len(data)
                try:
                    if off == 0:
                        self.conn.send_text(part, fin=fin)
                    else:
                        self.conn.send_continuation(part, fin=fin)
                except InvalidState:  # closed meanwhile (dropped as stalled, or by the client)
                    raise ClientDisconnected() from None
                self.transport.write(b"".join(self.conn.data_to_send()))

        def connection_lost(self, exc: Exception | None) -> None:
            if self._stall is not None:
                self._stall.cancel()
                self._stall = None
            count.release(_peer(self.transport), self.transport)
            super().connection_lost(exc)

    class GuardedHTTP(H11Protocol):
        """h11 with connections per address, header and body read timeouts, and stalled answers dropped."""

        _refused = False
        _timer: asyncio.TimerHandle | None = None
        _stall: asyncio.TimerHandle | None = None
        _reading_headers = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if not count.admit(_peer(transport), transport):
                self._refused = True
                transport.write(_raw_answer(429, "Too Many Requests", "too many connections from this address "
                                            f"(the agreement's [line] connections_per_address is "
                                            f"{count.per_address})", retry_after_s=1))
                transport.close()
                return
            self._start_headers()

        def _set(self, delay_s: float, what: str) -> None:
            self._cancel()
            self._timer = self.loop.call_later(delay_s, self._timed_out, what)

        def _cancel(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _start_headers(self) -> None:
            self._reading_headers = True
            self._set(header_s, f"headers: not received whole within {header_s:g} s")

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            super().data_received(data)
            if self.transport.is_closing() or self.transport.get_protocol() is not self:  # closed or upgraded
                self._cancel()
                return
            state = self.conn.their_state
            if state is h11.SEND_BODY:
                self._reading_headers = False
                self._set(body_s, f"body: nothing received for {body_s:g} s")
            elif state is h11.IDLE:
                if not self._reading_headers:  # the first byte of a request: its headers' clock starts
                    self._start_headers()
            else:
                self._reading_headers = False
                self._cancel()

        def _timed_out(self, what: str) -> None:
            self._timer = None
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return
            if self.cycle is not None and not self.cycle.response_complete and (
                    self.flow.read_paused or self.cycle.body):
                # the handler, not the client, is behind: it has body bytes it has not read yet
                self._set(body_s, what)
                return
            if self.cycle is None or not self.cycle.response_started:
                self.transport.write(_raw_answer(408, "Request Timeout", what))
            self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._reading_headers = False
            self._cancel()  # uvicorn's keep-alive timeout takes over until the next request's first byte

        def handle_websocket_upgrade(self, event: h11.Request) -> None:
            self._cancel()
            if self._stall is not None:
                self._stall.cancel()
                self._stall = None
            super().handle_websocket_upgrade(event)

        def pause_writing(self) -> None:
            super().pause_writing()
            if self._stall is None:
                self._stall = self.loop.call_later(stall_s, self._stalled)

        def resume_writing(self) -> None:
            super().resume_writing()
            if self._stall is not None:
                self._stall.cancel()
                self._stall = None

        def _stalled(self) -> None:
            self._stall = None
            if self.transport.is_closing():
                return
            log.info("dropping HTTP client %s: read nothing for %.0f s", self.client, stall_s)
            if self.cycle is not None and self.scope and self.scope.get("path") == SSE_PATH:
                try:
                    self.transport.write(self.conn.send(h11.Data(
                        data=f": too slow: read nothing for {stall_s:g} s; reconnect with Last-Event-ID\n\n"
                        .encode())) or b"")
                    self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
                except h11.LocalProtocolError:
                    pass
            self.transport.close()
            self.loop.call_later(ABORT_AFTER_S, self._abort)

        def _abort(self) -> None:
            _reset(self.transport)

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel()
            if self._stall is not None:
                self._stall.cancel()
                self._stall = None
            count.release(_peer(self.transport), self.transport)
            super().connection_lost(exc)

    return GuardedHTTP, GuardedWebSocket
