"""Staff actions on a conversation: stale forms, access, audit and realtime announcements."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.engine import transaction
from hub.db.models import AuditRecord, Client, Conversation, Message, Organisation, Staff, Team
from hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from hub.events import unit_of_work
from hub.inbox import actions, snooze
from hub.realtime.topics import conversation_channel, inbox_channel
from hub.resources import Resources
from tests.factories import (
    make_client,
    make_conversation,
    make_org,
    make_portal_user,
    make_staff,
    make_team,
)
from tests.helpers.inbox import inbound, principal_of
from workers.inbox import reopen_snoozed

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@dataclasses.dataclass
class World:
    org: Organisation
    team: Team
    anna: Staff
    bram: Staff  # in the team too
    outsider: Staff  # no care relationship
    client: Client
    conversation: Conversation


async def _world(db: AsyncSession) -> World:
    org = await make_org(db)
    team = await make_team(db, org)
    anna = await make_staff(db, org, team=team, name="Anna de Boer")
    bram = await make_staff(db, org, team=team, name="Bram Visser")
    outsider = await make_staff(db, org, name="Olga Smit")
    client = await make_client(db, org, team=team)
    conversation = await make_conversation(db, org, client=client)
    return World(org, team, anna, bram, outsider, client, conversation)


async def _audit(db: AsyncSession, conversation: Conversation) -> list[AuditRecord]:
    return list((await db.scalars(select(AuditRecord).where(
        AuditRecord.object_ref == f"conversation:{conversation.id}")
        .order_by(AuditRecord.id))).all())


async def test_assign_bumps_version_and_audits(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        seen = w.conversation.version
        done = await actions.assign(db, principal_of(w.anna), w.conversation.id, seen,
                                    staff_id=w.bram.id, team_id=w.team.id)
        assert (done.assignee_staff_id, done.assignee_team_id) == (w.bram.id, w.team.id)
        assert done.version == seen + 1
        [line] = await _audit(db, w.conversation)
        assert (line.event, line.user_id, line.client_id) == ("change", w.anna.id, w.client.id)
        assert f"staff={w.bram.id}" in line.detail


async def test_a_stale_form_does_not_overwrite_newer_state(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        stale = w.conversation.version
        anna, bram = principal_of(w.anna), principal_of(w.bram)
        await actions.set_status(db, bram, w.conversation.id, stale, "resolved")
    with pytest.raises(Conflict):
        async with transaction(hub.sessions) as db:
            await actions.assign(db, anna, w.conversation.id, stale,
                                 staff_id=w.anna.id, team_id=None)
    async with transaction(hub.sessions) as db:
        fresh = await db.get(Conversation, w.conversation.id)
        assert fresh is not None
        assert (fresh.status, fresh.assignee_staff_id) == ("resolved", None)


async def test_an_inbound_message_makes_the_open_form_stale(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        seen = w.conversation.version
        await inbound(db, w.conversation, "Nog een vraag")
        with pytest.raises(Conflict):
            await actions.set_status(db, principal_of(w.anna), w.conversation.id, seen,
                                     "resolved")


async def test_cannot_assign_to_a_colleague_without_care_relationship(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        with pytest.raises(InvalidInput, match="zorgrelatie"):
            await actions.assign(db, principal_of(w.anna), w.conversation.id,
                                 w.conversation.version, staff_id=w.outsider.id, team_id=None)


async def test_people_without_access_get_not_found(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        outsider = principal_of(w.outsider)
        for attempt in (
            actions.assign(db, outsider, w.conversation.id, 1, staff_id=None, team_id=None),
            actions.set_status(db, outsider, w.conversation.id, 1, "resolved"),
            actions.add_note(db, outsider, w.conversation.id, "kijkje"),
            actions.link_client(db, outsider, w.conversation.id, 1, None),
        ):
            with pytest.raises(NotFound):
                await attempt


async def test_portal_users_cannot_use_staff_actions(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        portal = principal_of(await make_portal_user(db, w.org, clients=(w.client,)))
        with pytest.raises(Forbidden):
            await actions.add_note(db, portal, w.conversation.id, "mag niet")
        with pytest.raises(Forbidden):
            await actions.set_status(db, portal, w.conversation.id, 1, "resolved")


async def test_snooze_needs_a_future_moment(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        anna = principal_of(w.anna)
        cid, version = w.conversation.id, w.conversation.version
        for until in (None, NOW - dt.timedelta(minutes=1), NOW + dt.timedelta(days=400),
                      dt.datetime(2026, 3, 3, 9, 0)):
            with pytest.raises(InvalidInput):
                await actions.set_status(db, anna, cid, version, "snoozed",
                                         snooze_until=until, now=NOW)
        with pytest.raises(InvalidInput):
            await actions.set_status(db, anna, cid, version, "closed")


async def test_the_sweep_reopens_due_snoozes_once(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        anna = principal_of(w.anna)
        later = await make_conversation(db, w.org, client=w.client)
        changed = await make_conversation(db, w.org, client=w.client)
        for conv, minutes in ((w.conversation, 30), (later, 300), (changed, 30)):
            await actions.set_status(db, anna, conv.id, conv.version, "snoozed",
                                     snooze_until=NOW + dt.timedelta(minutes=minutes), now=NOW)
        await actions.set_status(db, anna, changed.id, changed.version, "pending")
        assert await snooze.reopen_due(db, NOW + dt.timedelta(hours=1)) == 1
        assert await snooze.reopen_due(db, NOW + dt.timedelta(hours=1)) == 0
        statuses = {c.id: (await db.get(Conversation, c.id, populate_existing=True))
                    for c in (w.conversation, later, changed)}
        assert {i: (c.status, c.snoozed_until) for i, c in statuses.items() if c} == {
            w.conversation.id: ("open", None),
            later.id: ("snoozed", NOW + dt.timedelta(minutes=300)),
            changed.id: ("pending", None)}


async def test_the_worker_job_reopens_what_is_due_now(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        now = dt.datetime.now(dt.UTC)
        await actions.set_status(db, principal_of(w.anna), w.conversation.id,
                                 w.conversation.version, "snoozed",
                                 snooze_until=now + dt.timedelta(seconds=1), now=now)
    await asyncio.sleep(1.1)
    assert await reopen_snoozed({"hub": hub}) == 1
    assert await reopen_snoozed({"hub": hub}) == 0
    async with hub.sessions() as db:
        conv = await db.get(Conversation, w.conversation.id)
        assert conv is not None and conv.status == "open"
        [line] = [a for a in await _audit(db, conv) if a.user_type == "system"]
        assert "reopened" in line.detail


async def test_a_new_inbound_message_reopens_a_resolved_conversation(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        await actions.set_status(db, principal_of(w.anna), w.conversation.id,
                                 w.conversation.version, "resolved")
        await inbound(db, w.conversation, "Toch nog iets")
        assert w.conversation.status == "open"


async def test_notes_are_idempotent_and_move_the_writers_marker(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        anna = principal_of(w.anna)
        first = await actions.add_note(db, anna, w.conversation.id, " Bel dochter terug ",
                                       note_id="form-1")
        again = await actions.add_note(db, anna, w.conversation.id, "Bel dochter terug",
                                       note_id="form-1")
        assert first.id == again.id
        assert (first.direction, first.channel, first.body_text) == (
            "note", "note", "Bel dochter terug")
        notes = (await db.scalars(select(Message).where(
            Message.conversation_id == w.conversation.id))).all()
        assert len(notes) == 1
        assert await actions.mark_read(db, anna, w.conversation.id, 0) == first.seq
        with pytest.raises(InvalidInput):
            await actions.add_note(db, anna, w.conversation.id, "   ")


async def test_link_and_relink_audit_both_clients(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        other = await make_client(db, w.org, team=w.team)
        hidden = await make_client(db, w.org, caseload_of=w.outsider)
        anna = principal_of(w.anna)
        with pytest.raises(InvalidInput):
            await actions.link_client(db, anna, w.conversation.id, w.conversation.version,
                                      hidden.id)
        done = await actions.link_client(db, anna, w.conversation.id,
                                         w.conversation.version, other.id)
        assert done.client_id == other.id
        lines = await _audit(db, w.conversation)
        assert {line.client_id for line in lines} == {w.client.id, other.id}


async def test_mark_read_never_moves_back(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        anna = principal_of(w.anna)
        assert await actions.mark_read(db, anna, w.conversation.id, 5) == 5
        assert await actions.mark_read(db, anna, w.conversation.id, 3) == 5
        assert await actions.mark_read(db, anna, w.conversation.id, 8) == 8


async def test_changes_are_announced_after_commit(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
    pubsub = hub.redis.pubsub()
    await pubsub.subscribe(inbox_channel(w.org.id),
                           conversation_channel(w.org.id, w.conversation.id))
    try:
        async with unit_of_work(hub.sessions, hub.events) as db:
            await actions.assign(db, principal_of(w.anna), w.conversation.id,
                                 w.conversation.version, staff_id=w.anna.id, team_id=None)
        frames = await _frames(pubsub, 2)
    finally:
        await pubsub.aclose()
    assert {f["channel"] for f in frames} == {
        inbox_channel(w.org.id), conversation_channel(w.org.id, w.conversation.id)}
    for frame in frames:
        assert frame["data"]["type"] == "conversation_updated"
        assert frame["data"]["assignee_staff_id"] == w.anna.id
        assert frame["data"]["version"] == w.conversation.version + 1


async def _frames(pubsub: Any, wanted: int) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    for _ in range(50):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message:
            frames.append({"channel": message["channel"].decode(),
                           "data": json.loads(message["data"])})
        if len(frames) == wanted:
            break
    return frames
