"""Websockets: the handshake guard (cookie, Origin) and the subscribe rule per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.websockets import WebSocket

from hub.db.engine import transaction
from hub.db.models import AuditRecord
from hub.realtime.protocol import StreamRef
from hub.realtime.streams import open_stream
from hub.resources import Resources
from hub.security.policy import SecureWebSocketRoute, principal_of
from tests.conftest import LiveServer
from tests.helpers.auth import session_cookie
from tests.helpers.world import World, build_world

# who may subscribe to the world's client conversation (the same rule as its pages)
SUBSCRIBERS = {"carer", "coordinator", "portal_own"}


@pytest.fixture
async def world(hub: Resources) -> World:
    return await build_world(hub)


def _probe_app(hub: Resources) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        yield {"hub": hub}

    async def hello(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(principal_of(websocket).name)
        await websocket.close()

    return Starlette(lifespan=lifespan, routes=[
        SecureWebSocketRoute("/guarded", hello, access="staff"),
        SecureWebSocketRoute("/conversations/{conversation_id:int}", hello,
                             access="conversation"),
    ])


@pytest.fixture
async def probe(hub: Resources) -> AsyncIterator[LiveServer]:
    server = LiveServer(_probe_app(hub))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _greeting(server: LiveServer, path: str, headers: dict[str, str]) -> str | None:
    url = server.url.replace("http://", "ws://") + path
    try:
        async with websockets.connect(url, additional_headers=headers, open_timeout=5) as ws:
            return str(await ws.recv())
    except websockets.InvalidStatus:
        return None


async def test_handshake_needs_a_valid_cookie_and_this_hub_as_origin(
    probe: LiveServer, hub: Resources, world: World,
) -> None:
    name, value = await session_cookie(hub, world.users["carer"])
    cookie = {"Cookie": f"{name}={value}"}
    own = {"Origin": "http://127.0.0.1:8000", **cookie}
    assert await _greeting(probe, "/guarded", own) == "Fatima El Amrani"
    assert await _greeting(probe, "/guarded", cookie) == "Fatima El Amrani"  # not a browser
    hijack = {"Origin": "https://evil.example", **cookie}
    assert await _greeting(probe, "/guarded", hijack) is None
    assert await _greeting(probe, "/guarded", {"Origin": "http://127.0.0.1:8000"}) is None
    forged = {"Cookie": f"{name}={value[:-2]}xx"}
    assert await _greeting(probe, "/guarded", forged) is None
    async with hub.sessions() as db:
        details = list(await db.scalars(select(AuditRecord.detail).where(
            AuditRecord.event == "denied")))
    assert any("vreemde herkomst" in d for d in details)
    assert any("vervalste" in d for d in details)


async def test_a_conversation_socket_follows_the_care_rules(
    probe: LiveServer, hub: Resources, world: World,
) -> None:
    path = f"/conversations/{world.conversation.id}"
    for role, admitted in (("carer", True), ("stranger", False), ("coordinator", True)):
        name, value = await session_cookie(hub, world.users[role])
        got = await _greeting(probe, path, {"Cookie": f"{name}={value}"})
        assert (got is not None) == admitted, role


@pytest.mark.parametrize("role", ["carer", "stranger", "coordinator", "admin",
                                  "privacy_officer", "outsider", "portal_own", "portal_other"])
async def test_subscribing_to_a_client_conversation_follows_the_care_rules(
    hub: Resources, world: World, role: str,
) -> None:
    who = world.principal(role)
    ref = StreamRef("conversation", world.conversation.id)
    async with transaction(hub.sessions) as db:
        last_seq = await open_stream(db, who, ref)
    assert (last_seq is not None) == (role in SUBSCRIBERS)
    async with hub.sessions() as db:
        lines = await db.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.user_id == who.user_id, AuditRecord.object_ref == ref.name))
    assert lines == 1  # a read, or a denial: every subscribe attempt is audited
