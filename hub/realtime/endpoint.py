"""The websocket endpoints ``/ws`` (staff) and ``/portal/ws`` (portal users).

The route's access policy has signed the user in (session cookie, Origin check) before
the socket is accepted. Then the socket is handed to a ``Connection`` (``wire.DETACH``)
and this coroutine returns: no task waits on an idle socket. Frames are handled one at
a time, each answered by an ``ack`` or an ``error`` frame; a bad frame never ends the
socket, a flood does (``CLOSE_FLOOD``). ``_handle`` is the boundary: it catches
everything a frame can raise and turns it into an error frame.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.websockets import WebSocket

from hub.errors import Conflict, Forbidden, HubError, InvalidInput, NotFound
from hub.realtime import protocol as p
from hub.realtime.actions import Actions
from hub.realtime.connection import Connection
from hub.realtime.fanout import Fanout
from hub.realtime.wire import ClientDisconnected, detach_of
from hub.resources import Resources
from hub.security import guards
from hub.security.policy import principal_of

log = logging.getLogger(__name__)
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
    detach = detach_of(websocket.scope)
    if detach is None:
        log.error("%s needs the hub's websocket protocol (hub.realtime.wire.Wire, as "
                  "`hub web` runs uvicorn); closing", websocket.url.path)
        await websocket.close(1011)
        return
    hub: Resources = websocket.state.hub
    fanout: Fanout = websocket.state.realtime
    settings = hub.settings
    await websocket.accept()
    actions = Actions(hub, fanout)
    max_bytes = settings.ws_max_frame_bytes

    async def on_frame(text: str | None) -> None:
        await _handle(conn, actions, text, max_bytes)

    def on_end() -> None:
        fanout.remove_connection(conn)
        actions.forget_presence()

    conn = Connection(who, buffer_bytes=settings.ws_send_buffer_bytes,
                      rate_limit=settings.ws_rate_limit, fetch=actions.fetch,
                      on_frame=on_frame, on_end=on_end)
    actions.conn = conn
    await fanout.add_connection(conn)
    await actions.set_presence("online")
    try:
        conn.attach(detach)  # from here on the socket is the connection's
    except ClientDisconnected:
        conn.lost()
        return
    conn.send(actions.hello())  # first: frames already received are handled after this


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
