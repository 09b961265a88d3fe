"""Rooms, members, mentions, unread counts and search, through the chat services."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import delete

from hub.chat import messages, rooms
from hub.chat.search import search_chat
from hub.db.engine import transaction
from hub.db.models import TeamMembership
from hub.errors import Conflict, Forbidden, InvalidInput
from hub.events import unit_of_work
from hub.realtime.topics import access_channel
from hub.resources import Resources
from tests import conftest
from tests.realtime.conftest import Zorg, principal


async def test_only_admins_and_coordinators_create_rooms(hub: Resources, zorg: Zorg) -> None:
    async with transaction(hub.sessions) as db:
        with pytest.raises(Forbidden):
            await rooms.create_group_room(db, principal(zorg.anouk), "Eigen kamer", set())
        with pytest.raises(InvalidInput):
            await rooms.create_group_room(db, principal(zorg.coordinator), "  ", set())
        team_room = await rooms.create_team_room(db, principal(zorg.coordinator), zorg.team.id)
        assert (team_room.kind, team_room.name) == ("team", "Team Zuid")


async def test_a_direct_room_is_one_per_pair(hub: Resources, zorg: Zorg) -> None:
    async with transaction(hub.sessions) as db:
        one = await rooms.direct_room(db, principal(zorg.anouk), zorg.bram.id)
        two = await rooms.direct_room(db, principal(zorg.bram), zorg.anouk.id)
        assert one.id == two.id and one.direct_key == f"{zorg.anouk.id}:{zorg.bram.id}"
        listed = await rooms.list_rooms(db, principal(zorg.bram))
        assert [(r["kind"], r["name"]) for r in listed] == [("direct", "Anouk Visser")]
        with pytest.raises(InvalidInput):
            await rooms.direct_room(db, principal(zorg.anouk), zorg.anouk.id)
        with pytest.raises(Conflict):
            await rooms.add_members(db, principal(zorg.coordinator), one.id, {zorg.coordinator.id})


async def test_team_room_members_follow_the_team(hub: Resources, zorg: Zorg) -> None:
    async with transaction(hub.sessions) as db:
        room = await rooms.create_team_room(db, principal(zorg.coordinator), zorg.team.id)
        await messages.post_message(db, principal(zorg.anouk), room.id, "t1", "Hoi team")
        with pytest.raises(Forbidden):
            await messages.post_message(db, principal(zorg.bram), room.id, "t2", "Ik ook?")
        await db.execute(delete(TeamMembership).where(TeamMembership.staff_id == zorg.anouk.id))
        with pytest.raises(Forbidden):
            await messages.post_message(db, principal(zorg.anouk), room.id, "t3", "Nog?")


async def test_membership_changes_are_announced_after_commit(
        hub: Resources, zorg: Zorg) -> None:
    pubsub = hub.redis.pubsub()
    await pubsub.subscribe(access_channel(zorg.org.id))
    await pubsub.get_message(timeout=1)
    async with unit_of_work(hub.sessions, hub.events) as db:
        added = await rooms.add_members(db, principal(zorg.coordinator), zorg.room.id,
                                        {zorg.bram.id, 999999})
        assert added == {zorg.bram.id}
        assert await pubsub.get_message(timeout=0.2) is None  # not before the commit
    announced = await pubsub.get_message(timeout=2)
    assert announced is not None and json.loads(announced["data"]) == {
        "type": "access_changed", "room_id": zorg.room.id, "staff_ids": [zorg.bram.id]}
    with pytest.raises(Forbidden):
        async with unit_of_work(hub.sessions, hub.events) as db:
            await rooms.remove_member(db, principal(zorg.anouk), zorg.room.id, zorg.bram.id)
    await pubsub.aclose()


async def test_mentions_and_unread_counts(hub: Resources, zorg: Zorg) -> None:
    carla, anouk = principal(zorg.coordinator), principal(zorg.anouk)
    async with transaction(hub.sessions) as db:
        posted = await messages.post_message(db, carla, zorg.room.id, "c1", "Anouk, bel je?",
                                             [zorg.anouk.id, zorg.bram.id])
        assert posted.message.mentions == [zorg.anouk.id]  # Bram is no member
        assert posted.recipients == (zorg.anouk.id,)
        await messages.post_message(db, carla, zorg.room.id, "c2", "Gaat om mevrouw K.")
        await messages.post_message(db, anouk, zorg.room.id, "a1", "Doe ik")
        assert await rooms.unread_counts(db, anouk) == {zorg.room.id: (2, 1)}
        assert await rooms.unread_counts(db, carla) == {zorg.room.id: (1, 0)}
        assert await messages.mark_read(db, anouk, zorg.room.id, 2) == 2
        assert await messages.mark_read(db, anouk, zorg.room.id, 1) == 2  # never back
        assert await rooms.unread_counts(db, anouk) == {}
        await messages.delete_message(db, carla, zorg.room.id, 2)
        assert await rooms.unread_counts(db, principal(zorg.coordinator)) == {zorg.room.id: (1, 0)}


async def test_search_finds_only_what_ones_rooms_hold(hub: Resources, zorg: Zorg) -> None:
    carla, bram = principal(zorg.coordinator), principal(zorg.bram)
    async with transaction(hub.sessions) as db:
        await messages.post_message(db, carla, zorg.room.id, "c1", "De afspraken voor morgen")
        await messages.post_message(db, carla, zorg.room.id, "c2", "Koffie?")
        direct = await rooms.direct_room(db, bram, zorg.anouk.id)
        await messages.post_message(db, bram, direct.id, "b1", "Afspraak verzet")
    async with hub.sessions() as db:
        hits = await search_chat(db, carla, "afspraken")
        assert [h["seq"] for h in hits] == [1]
        assert hits[0]["room_name"] == "Overdracht"
        assert [h["room_id"] for h in await search_chat(db, bram, "afspra")] == [direct.id]
        assert await search_chat(db, carla, "%") == []
        if conftest.test_backend() == "postgres":  # Dutch stemming: "afspraak" finds "afspraken"
            assert len(await search_chat(db, principal(zorg.anouk), "afspraak")) == 2


async def test_concurrent_sends_get_distinct_consecutive_numbers(
        hub: Resources, zorg: Zorg) -> None:
    async def send(i: int) -> int:
        async with unit_of_work(hub.sessions, hub.events) as db:
            posted = await messages.post_message(db, principal(zorg.anouk), zorg.room.id,
                                                 f"p{i}", f"bericht {i}")
            return posted.message.seq

    seqs = await asyncio.gather(*(send(i) for i in range(20)))
    assert sorted(seqs) == list(range(1, 21))
