from __future__ import annotations

from hub.resources import Resources
from tests.conftest import LiveServer
from tests.realtime.conftest import Zorg
from tests.realtime.wsclient import login


async def test_send_and_receive(hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    a = await login(hub, live.url, zorg.anouk)
    c = await login(hub, live.url, zorg.coordinator)
    stream = f"room:{zorg.room.id}"
    assert (await a.subscribe(stream))["type"] == "synced"
    assert (await c.subscribe(stream))["type"] == "synced"
    ack = await a.post(stream, "Hoi allemaal", "m1")
    assert ack["type"] == "ack" and ack["seq"] == 1
    got = await c.expect("message")
    assert got["message"]["body"] == "Hoi allemaal"
    await a.close()
    await c.close()
