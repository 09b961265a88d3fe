"""The rooms JSON API: listing with unread counts, creating, members, history, search."""

from __future__ import annotations

import httpx

from hub.chat import messages
from hub.db.engine import transaction
from hub.resources import Resources
from tests.helpers.auth import signed_in
from tests.realtime.conftest import Zorg, principal


async def test_rooms_api(client: httpx.AsyncClient, hub: Resources, zorg: Zorg) -> None:
    async with transaction(hub.sessions) as db:
        for i in range(1, 4):
            await messages.post_message(db, principal(zorg.coordinator), zorg.room.id,
                                        f"c{i}", f"overdracht {i}")
    await signed_in(client, hub, zorg.anouk)
    listed = (await client.get("/api/v1/rooms")).json()["rooms"]
    assert [(r["name"], r["unread"], r["last_seq"]) for r in listed] == [("Overdracht", 3, 3)]
    page = (await client.get("/api/v1/rooms/messages",
                             params={"room_id": zorg.room.id, "before": 3, "limit": 1})).json()
    assert [m["body"] for m in page["messages"]] == ["overdracht 2"]
    members = (await client.get("/api/v1/rooms/members", params={"room_id": zorg.room.id}))
    assert {m["name"] for m in members.json()["members"]} == {"Anouk Visser", "Carla Smit"}
    hits = (await client.get("/api/v1/rooms/search", params={"q": "overdracht"})).json()
    assert len(hits["hits"]) == 3
    refused = await client.post("/api/v1/rooms", json={"name": "Mijn kamer"})
    assert refused.status_code == 403
    direct = await client.post("/api/v1/rooms/direct", json={"staff_id": zorg.bram.id})
    assert direct.json()["kind"] == "direct"
    missing = await client.get("/api/v1/rooms/messages")
    assert missing.status_code == 422


async def test_coordinators_manage_rooms(client: httpx.AsyncClient, hub: Resources,
                                         zorg: Zorg) -> None:
    await signed_in(client, hub, zorg.coordinator)
    created = await client.post("/api/v1/rooms", json={"name": "Nachtdienst",
                                                       "staff_ids": [zorg.bram.id]})
    assert created.status_code == 201
    room_id = created.json()["id"]
    changed = await client.post("/api/v1/rooms/members", json={
        "room_id": room_id, "add": [zorg.anouk.id], "remove": [zorg.bram.id]})
    assert changed.json() == {"added": [zorg.anouk.id], "removed": [zorg.bram.id]}
    await signed_in(client, hub, zorg.bram)
    gone = await client.get("/api/v1/rooms/messages", params={"room_id": room_id})
    assert gone.status_code == 403
