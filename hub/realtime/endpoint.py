"""The websocket endpoints ``/ws`` (staff) and ``/portal/ws`` (portal users).

The route's access policy has signed the user in (session cookie, Origin check) before
the socket is accepted. Then frames are read one at a time, each answered by an ``ack``
or an ``error`` frame; a bad frame never ends the socket, a flood does
(``CLOSE_FLOOD``). This module is the socket loop's boundary: it catches everything a
frame can raise and turns it into an error frame.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.websockets import WebSocket

from hub.errors import Conflict, Forbidden, HubError, InvalidInput, NotFound
from hub.realtime import protocol as p
from hub.realtime.actions import Actions
from hub.realtime.connection import Connection
from hub.realtime.fanout import Fanout
from hub.resources import Resources
from hub.security import guards
from hub.security.policy import principal_of

log = logging.getLogger(__name__)
RATE_WINDOW_SECONDS = 10.0
_ERROR_CODES: dict[type[HubError], str] = {
    Forbidden: p.NOT_ALLOWED, NotFound: p.NOT_FOUND, Conflict: "conflict",
    InvalidInput: p.INVALID_INPUT,
}


async def staff_socket(websocket: WebSocket) -> None:
    await serve(websocket)


async def portal_socket(websocket: WebSocket) -> None:
    await serve(websocket)


async def serve(websocket: WebSocket) -> None:
    who = principal_of(websocket)
    guards.forget(websocket)  # the session row cached at the handshake is not needed now
    hub: Resources = websocket.state.hub
    fanout: Fanout = websocket.state.realtime
    await websocket.accept()
    actions = Actions(hub, fanout)
    conn = Connection(websocket, who, buffer_bytes=hub.settings.ws_send_buffer_bytes,
                      fetch=actions.fetch)
    actions.conn = conn
    conn.handler = asyncio.current_task()
    try:
        await fanout.add_connection(conn)
        conn.send(actions.hello())
        await actions.set_presence("online")
        settings = hub.settings
        while conn.closing is None:  # the read loop, inline: one coroutine frame less
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            if not conn.heard(settings.ws_rate_limit, RATE_WINDOW_SECONDS):
                log.warning("websocket flood from %s; closing", conn.key)
                conn.drop(p.CLOSE_FLOOD)
                break
            await _handle(conn, actions, message.get("text"), settings.ws_max_frame_bytes)
    except asyncio.CancelledError:
        if conn.closing is None:
            raise  # the server is stopping this task, not us
        asyncio.current_task().uncancel()  # type: ignore[union-attr]
    finally:
        fanout.remove_connection(conn)
        actions.forget_presence()
    if conn.closing is not None:
        await conn.close_quietly()


async def _handle(conn: Connection, actions: Actions, text: str | None,
                  max_bytes: int) -> None:
    frame: dict[str, Any] = {}
    try:
        frame = p.decode(text, max_bytes)
        await actions.run(frame)
    except p.FrameError as exc:
        conn.push(exc.frame())
    except HubError as exc:
        code = next((c for k, c in _ERROR_CODES.items() if isinstance(exc, k)), p.INTERNAL)
        conn.push(p.error_frame(code, exc.message, ref=p.ref_of(frame),
                                stream=_stream(frame)))
    except Exception:  # boundary: one bad frame must not end the socket
        log.exception("websocket frame %s failed", frame.get("type"))
        conn.push(p.error_frame(p.INTERNAL, "internal error", ref=p.ref_of(frame),
                                stream=_stream(frame)))


def _stream(frame: dict[str, Any]) -> str | None:
    ref = p.StreamRef.parse(frame.get("stream"))
    return ref.name if ref else None
