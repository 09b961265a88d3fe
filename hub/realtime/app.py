"""How the realtime layer plugs into the app: its routes and its part of the lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.routing import BaseRoute

from hub.realtime.endpoint import portal_socket, staff_socket
from hub.realtime.fanout import Fanout
from hub.realtime.wire import Wire
from hub.resources import Resources
from hub.security.policy import PORTAL, STAFF, SecureWebSocketRoute
from hub.settings import Settings


def routes() -> list[BaseRoute]:
    return [
        SecureWebSocketRoute("/ws", staff_socket, access=STAFF),
        SecureWebSocketRoute("/portal/ws", portal_socket, access=PORTAL),
    ]


@asynccontextmanager
async def running(resources: Resources) -> AsyncIterator[Fanout]:
    """The process's fan-out, from startup to shutdown (``websocket.state.realtime``)."""
    fanout = Fanout(resources)
    await fanout.start()
    # what exists now (modules, the app, pools) lives as long as the process: keep it
    # out of the cycle collector's full collections, which otherwise scanned all of it
    # (measured: 110-250 ms pauses of every socket of the process under fan-out load)
    if not gc.get_freeze_count():  # once per process (tests start many apps in one)
        gc.collect()
        gc.freeze()
    try:
        yield fanout
    finally:
        await fanout.stop()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn should run websockets for this hub (``hub web``, ``hub run``).

    - ``hub.realtime.wire.Wire``: uvicorn's sans-I/O ``websockets`` protocol (no task of
      its own per socket; the legacy one keeps four and is deprecated) that lets the
      endpoint take an accepted socket over, so no ASGI task waits on an idle one.
    - no permessage-deflate: ~47-120 KiB per idle socket for compressing chat lines of a
      few hundred bytes is a bad trade (see DESIGN.md's pitfalls).
    - a protocol-level size cap above the protocol's own (``ws_max_frame_bytes``, which
      answers with an ``error`` frame), so a huge frame is refused before it is buffered.
    - protocol pings to find dead peers; the JSON heartbeat is for browsers, which cannot
      see protocol pings.
    """
    return {
        "ws": Wire,
        "ws_per_message_deflate": False,
        "ws_max_size": settings.ws_max_frame_bytes * 4,
        "ws_ping_interval": settings.ws_heartbeat_seconds,
        "ws_ping_timeout": settings.ws_heartbeat_seconds,
    }
