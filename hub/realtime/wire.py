"""The websocket wire under ``/ws`` and ``/portal/ws``: uvicorn's sans-I/O websockets
protocol, plus a way for the app to take a socket over once it is accepted.

The handshake is ordinary ASGI: Starlette routes it, the route's access policy signs
the user in, the endpoint accepts. Then the endpoint hands the socket to a ``Peer``
(``hub.realtime.connection.Connection``) through the ASGI extension ``DETACH`` and
returns. From then on no task and no coroutine chain is kept per socket:

- a text frame from the client is handed to ``Peer.received`` as it is parsed;
- a frame to the client is written straight to the transport (``write``), already
  serialised: a fan-out serialises a frame once for all its sockets;
- the transport's buffer is the send queue: ``buffered`` tells how full it is, and
  ``Peer.drained`` is called when a full one has emptied below the low-water mark;
- ``Peer.lost`` is called once when the connection is gone, whoever ended it.

Keepalive pings and the closing handshake stay uvicorn's. A server that does not offer
``DETACH`` (another ASGI server) cannot serve these endpoints; they refuse the handshake.
``hub web``, ``hub run`` and the tests' live server use this protocol
(``hub.realtime.app.uvicorn_options``).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any, Protocol

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State

__all__ = ["DETACH", "ClientDisconnected", "Peer", "Wire", "detach_of", "text_frame"]

log = logging.getLogger(__name__)
DETACH = "zorghub.detach"
# a close the client does not answer within this long ends the connection anyway
CLOSE_WAIT_SECONDS = 1.0


class Peer(Protocol):
    """What takes a detached socket over (``Connection``)."""

    def received(self, text: str | None) -> None:
        """A whole message from the client: its text, or None for a binary one."""

    def drained(self) -> None:
        """The send buffer, full a moment ago, has room again."""

    def lost(self) -> None:
        """The connection is gone (called once)."""


def text_frame(text: str) -> bytes:
    """``text`` as one unmasked text frame, ready for ``Wire.write`` (no extensions are
    negotiated: ``uvicorn_options`` turns permessage-deflate off)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class Wire(WebSocketsSansIOProtocol):
    """One websocket connection (uvicorn creates one per upgrade request)."""

    peer: Peer | None = None
    paused = False  # the transport's buffer is above its high-water mark

    # --- the handshake (ASGI) -------------------------------------------------------

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # a valid upgrade: the ASGI task starts on the next turn
            scope["extensions"][DETACH] = self.detach

    def detach(self, peer: Peer, high_water: int) -> Wire:
        """Hand the accepted socket to ``peer``; the ASGI app returns right after.

        ``high_water``: bytes buffered for the client above which ``Peer.drained`` is
        armed (it fires when the buffer is back under a quarter of that)."""
        if not self.handshake_complete or self.close_sent or self.disconnected:
            raise ClientDisconnected()
        self.peer = peer
        self.transport.set_write_buffer_limits(high=high_water, low=high_water // 4)
        waiting, self.queue = self.queue, None  # type: ignore[assignment]
        # what the ASGI side held for the handshake is not needed any more
        self.writable = None  # type: ignore[assignment]
        self.scope = self.request = self.response = None  # type: ignore[assignment]
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        while not waiting.empty():  # frames the client sent before the take-over
            message: Any = waiting.get_nowait()
            if message["type"] == "websocket.receive":
                peer.received(message.get("text"))
        return self

    async def run_asgi(self) -> None:
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self.send_500_response()
        else:
            if self.peer is not None:
                return  # detached: the socket lives on without this task
            if not self.handshake_complete:
                self.logger.error("ASGI callable returned without completing handshake.")
                self.send_500_response()
            elif result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.",
                                  result)
        if self.close_timer is None:
            self.transport.close()

    # --- after the take-over --------------------------------------------------------

    @property
    def buffered(self) -> int:
        """Bytes written for the client that it has not taken yet."""
        return int(self.transport.get_write_buffer_size())

    def write(self, frame: bytes) -> None:
        """Send a frame made by ``text_frame``; nothing once the socket is closing."""
        if self.close_sent or self.conn.state is not State.OPEN:
            return
        self.transport.write(frame)

    def close(self, code: int) -> None:
        """Start the closing handshake; the connection ends when the client answers or
        after ``CLOSE_WAIT_SECONDS``, whichever is first."""
        if self.close_sent or self.disconnected or self.conn.state is not State.OPEN:
            return
        self.stop_keepalive()
        self.conn.send_close(code)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.close_timer = self.loop.call_later(CLOSE_WAIT_SECONDS, self.transport.abort)

    def pause_reading(self) -> None:
        if not self.read_paused and not self.disconnected:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused and not self.disconnected:
            self.read_paused = False
            self.transport.resume_reading()

    # --- uvicorn's callbacks, for a detached socket ---------------------------------

    def send_receive_event_to_app(self) -> None:
        if self.peer is None:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return
        if self.curr_msg_data_type != "text":
            self.peer.received(None)
            return
        try:
            text = data.decode()
        except UnicodeDecodeError:
            self.conn.send_close(1007)
            self.handle_parser_exception()
            return
        self.peer.received(text)

    def handle_close(self, event: Frame) -> None:
        if self.peer is None:
            super().handle_close(event)
            return
        self._flush_and_end()  # the client closes (or answers our close): answer, then end

    def handle_parser_exception(self) -> None:
        if self.peer is None:
            super().handle_parser_exception()
            return
        self._flush_and_end()  # the close frame the protocol queued for the error

    def pause_writing(self) -> None:
        if self.peer is None:
            super().pause_writing()
            return
        self.paused = True

    def resume_writing(self) -> None:
        if self.peer is None:
            super().resume_writing()
            return
        self.paused = False
        self.peer.drained()

    def shutdown(self) -> None:
        """The server is stopping: close with 1012 (service restart; clients resume)."""
        if self.peer is None:
            super().shutdown()
            return
        self.stop_keepalive()
        if not self.close_sent and self.conn.state is State.OPEN:
            self.conn.send_close(1012)
        self._flush_and_end()

    def _flush_and_end(self) -> None:
        """Write what the protocol has queued (a close frame, or nothing), then end."""
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        peer = self.peer
        if peer is None:
            super().connection_lost(exc)
            return
        self.stop_keepalive()
        self.connections.discard(self)
        self.disconnected = True
        self.paused = False
        if self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = None
        if exc is None:
            self.transport.close()
        try:
            peer.lost()
        except Exception:  # boundary: a failing peer must not break the event loop's callback
            log.exception("websocket peer failed on connection loss")


def detach_of(scope: MutableMapping[str, Any]) -> Any:
    """The take-over function of this socket's server, or None (not served by ``Wire``)."""
    return scope.get("extensions", {}).get(DETACH)

