"""A socket lives only as long as its session: silence, logout and a disabled account
close it with the documented codes."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from hub.db.engine import transaction
from hub.db.models import Staff
from hub.events import emit, unit_of_work
from hub.realtime.topics import access_channel
from hub.resources import Resources
from hub.security import sessions
from hub.settings import Settings
from tests.conftest import LiveServer
from tests.helpers.auth import start_session
from tests.realtime.conftest import Zorg
from tests.realtime.wsclient import open_client


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_changes(ws_heartbeat_seconds=0.5)


async def test_a_silent_socket_is_closed_and_a_pinging_one_stays(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    name, value, _ = await start_session(hub, zorg.anouk)
    silent = await open_client(live.url, (name, value))
    alive = await open_client(live.url, (name, value))
    for _ in range(8):  # 2 s: four heartbeats
        await alive.send({"type": "ping"})
        await alive.expect("pong")
        await asyncio.sleep(0.25)
    assert await silent.wait_closed() == 4000
    assert alive.closed_code is None
    await alive.close()


async def test_logout_everywhere_closes_the_socket(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    name, value, _ = await start_session(hub, zorg.anouk)
    ws = await open_client(live.url, (name, value))
    async with unit_of_work(hub.sessions, hub.events) as db:
        await sessions.revoke_all(db, "staff", zorg.anouk.id)
        emit(db, access_channel(zorg.org.id), {"type": "access_changed",
                                               "staff_ids": [zorg.anouk.id]})
    assert await ws.wait_closed() == 4001


async def test_a_disabled_account_is_closed_by_an_organisation_wide_recheck(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    name, value, _ = await start_session(hub, zorg.bram)
    ws = await open_client(live.url, (name, value))
    other = await open_client(live.url, (await start_session(hub, zorg.anouk))[:2])
    async with transaction(hub.sessions) as db:
        await db.execute(update(Staff).where(Staff.id == zorg.bram.id).values(active=False))
    await hub.redis.publish(access_channel(zorg.org.id), '{"type": "access_changed"}')
    assert await ws.wait_closed() == 4001
    await other.send({"type": "ping"})
    await other.expect("pong")
    await other.close()
