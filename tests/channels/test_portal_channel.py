"""The portal channel: portal messages in, staff answers out, read receipts back."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.channels import portal
from hub.db.engine import transaction
from hub.db.models import (
    Attachment,
    AuditRecord,
    Client,
    Conversation,
    Message,
    Organisation,
    PortalUser,
    Staff,
)
from hub.errors import Forbidden, InvalidInput, NotFound
from hub.events import unit_of_work
from hub.inbox import actions
from hub.inbox.attachments import AttachmentStore, FileData
from hub.realtime.topics import conversation_channel
from hub.resources import Resources
from tests.factories import (
    make_client,
    make_conversation,
    make_org,
    make_portal_user,
    make_staff,
    make_team,
)
from tests.helpers.inbox import principal_of


@dataclasses.dataclass
class World:
    org: Organisation
    staff: Staff
    client: Client
    daughter: PortalUser


async def _world(db: AsyncSession) -> World:
    org = await make_org(db)
    team = await make_team(db, org)
    staff = await make_staff(db, org, team=team, name="Anna de Boer")
    client = await make_client(db, org, team=team)
    daughter = await make_portal_user(db, org, clients=(client,), relation="family",
                                      name="Ingrid Bakker")
    return World(org, staff, client, daughter)


async def _count(db: AsyncSession, model: type[Message] | type[Conversation]) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_first_message_makes_the_portal_conversation_and_retries_store_once(
        hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        who = principal_of(w.daughter)
        first = await portal.receive(db, who, text="Mag mama zaterdag mee naar de markt?",
                                     client_msg_id="m-1")
        again = await portal.receive(db, who, text="Mag mama zaterdag mee naar de markt?",
                                     client_msg_id="m-1")
        second = await portal.receive(db, who, text="Graag voor tienen", client_msg_id="m-2")
        assert first.id == again.id
        assert second.conversation_id == first.conversation_id
        assert (await _count(db, Message), await _count(db, Conversation)) == (2, 1)
        conv = await db.get(Conversation, first.conversation_id)
        assert conv is not None
        assert (conv.channel, conv.client_id, conv.status) == ("portal", w.client.id, "open")
        assert (first.direction, first.sender_portal_user_id, first.external_id) == (
            "in", w.daughter.id, f"portal:{w.daughter.id}:m-1")
        line = await db.scalar(select(AuditRecord).where(
            AuditRecord.object_ref == f"message:{first.id}"))
        assert line is not None and (line.user_type, line.client_id) == ("portal", w.client.id)


async def test_a_representative_of_two_clients_must_choose(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        other = await make_client(db, w.org)
        guardian = principal_of(await make_portal_user(db, w.org, clients=(w.client, other)))
        with pytest.raises(InvalidInput):
            await portal.receive(db, guardian, text="Hallo", client_msg_id="g-1")
        sent = await portal.receive(db, guardian, text="Hallo", client_msg_id="g-2",
                                    client_id=other.id)
        conv = await db.get(Conversation, sent.conversation_id)
        assert conv is not None and conv.client_id == other.id


async def test_portal_users_write_only_into_their_own_portal_conversations(
        hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        stranger_client = await make_client(db, w.org)
        theirs = await make_conversation(db, w.org, client=stranger_client, channel="portal")
        own_email = await make_conversation(db, w.org, client=w.client, channel="email")
        who = principal_of(w.daughter)
        for conversation_id in (theirs.id, own_email.id):
            with pytest.raises(NotFound):
                await portal.receive(db, who, text="Hoi", client_msg_id=f"x{conversation_id}",
                                     conversation_id=conversation_id)
        with pytest.raises(NotFound):
            await portal.receive(db, who, text="Hoi", client_msg_id="y",
                                 client_id=stranger_client.id)
        with pytest.raises(Forbidden):
            await portal.receive(db, principal_of(w.staff), text="Hoi", client_msg_id="z",
                                 client_id=w.client.id)


async def test_bad_portal_input_is_refused(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        for text, msg_id in (("   ", "ok"), ("x" * 9000, "ok"), ("Hoi", ""), ("Hoi", "a b"),
                             ("Hoi", "é"), ("Hoi", "x" * 65)):
            with pytest.raises(InvalidInput):
                await portal.receive(db, principal_of(w.daughter), text=text,
                                     client_msg_id=msg_id)
        assert await _count(db, Message) == 0


async def test_staff_replies_are_sent_then_read_when_the_portal_user_reads(
        hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        daughter, anna = principal_of(w.daughter), principal_of(w.staff)
        question = await portal.receive(db, daughter, text="Vraag", client_msg_id="q")
        conv = await actions.load_visible(db, anna, question.conversation_id)
        answer = await portal.reply(db, anna, conv, "Antwoord", reply_id="r1")
        note = await actions.add_note(db, anna, conv.id, "Intern")
        later = await portal.reply(db, anna, conv, "Nog iets", reply_id="r2")
        assert (answer.direction, answer.delivery_status) == ("out", "sent")
    pubsub = hub.redis.pubsub()
    await pubsub.subscribe(conversation_channel(w.org.id, conv.id))
    try:
        async with unit_of_work(hub.sessions, hub.events) as db:
            changed = await portal.mark_read(db, daughter, conv.id, answer.seq)
        frame = None
        for _ in range(30):
            got = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if got:
                frame = json.loads(got["data"])
                break
    finally:
        await pubsub.aclose()
    assert changed == [answer.id]
    assert frame is not None and frame["type"] == "delivery"
    assert (frame["reader"], frame["up_to"], frame["status"]) == ("portal", answer.seq, "read")
    assert "seq" not in frame  # not a stream message: the realtime layer passes it on
    async with transaction(hub.sessions) as db:
        assert await portal.mark_read(db, daughter, conv.id, 10_000) == [later.id]
        statuses = {m.id: m.delivery_status for m in (await db.scalars(select(Message))).all()}
        assert statuses[note.id] == "received" and statuses[later.id] == "read"


async def test_portal_users_cannot_reply_as_staff(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        conv = await make_conversation(db, w.org, client=w.client, channel="portal")
        with pytest.raises(Forbidden):
            await portal.reply(db, principal_of(w.daughter), conv, "Hoi", reply_id="r")
        with pytest.raises(Forbidden):
            await portal.mark_read(db, principal_of(w.staff), conv.id, 1)


async def test_portal_messages_carry_attachments(hub: Resources, tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "files")
    pdf = FileData("verwijzing.pdf", "application/pdf", b"%PDF-1.4 brief van de huisarts")
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        message = await portal.receive(db, principal_of(w.daughter), text="", files=[pdf],
                                       client_msg_id="f1", store=store)
        [row] = (await db.scalars(select(Attachment).where(
            Attachment.message_id == message.id))).all()
        assert (row.filename, row.size) == ("verwijzing.pdf", len(pdf.data))
        assert store.get(row.sha256) == pdf.data


async def test_linked_portal_users_are_the_active_ones(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        await make_portal_user(db, w.org, clients=(w.client,), active=False)
        conv = await make_conversation(db, w.org, client=w.client, channel="portal")
        assert await portal.linked_portal_users(db, conv) == [w.daughter.id]
