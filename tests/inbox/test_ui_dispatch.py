"""Answers go out on the conversation's channel, or on another channel of the client."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.engine import transaction
from hub.db.models import (
    Client,
    Conversation,
    Mailbox,
    Organisation,
    PendingNotification,
    PortalUser,
    Staff,
)
from hub.errors import ChannelError, Forbidden, InvalidInput
from hub.inbox.attachments import AttachmentStore
from hub.inbox.dispatch import ReplyContext, reply_channels, send_reply
from hub.inbox.queries import InboxFilter, inbox_page
from hub.realtime.presence import Presence
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


@dataclasses.dataclass
class World:
    org: Organisation
    anna: Staff
    client: Client
    daughter: PortalUser
    email: Conversation


async def _world(db: AsyncSession) -> World:
    org = await make_org(db)
    team = await make_team(db, org)
    anna = await make_staff(db, org, team=team, name="Anna de Boer")
    client = await make_client(db, org, team=team)
    daughter = await make_portal_user(db, org, clients=(client,))
    mailbox = Mailbox(organisation_id=org.id, name="Zorg", address="zorg@example.nl",
                      imap_host="127.0.0.1", imap_user="zorg", imap_password="x")
    db.add(mailbox)
    await db.flush()
    email = await make_conversation(db, org, client=client, channel="email",
                                    external_party="dochter@familie.test",
                                    mailbox_id=mailbox.id, subject="Medicatie")
    await inbound(db, email, "Wanneer komt de nieuwe medicatie?")
    return World(org, anna, client, daughter, email)


def _ctx(hub: Resources, tmp_path: Path, presence: bool = False) -> ReplyContext:
    return ReplyContext(hub.settings, AttachmentStore(tmp_path / "files"),
                        Presence(hub.redis, 20.0) if presence else None)


async def test_an_email_is_answered_by_email(hub: Resources, tmp_path: Path) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        anna = principal_of(w.anna)
        sent = await send_reply(db, anna, _ctx(hub, tmp_path), w.email.id, "Morgen.",
                                reply_id="r1")
        assert (sent.conversation_id, sent.channel, sent.direction, sent.delivery_status) == (
            w.email.id, "email", "out", "queued")
        assert sent.meta["to"] == ["dochter@familie.test"]
        row = (await inbox_page(db, anna, InboxFilter(status="all"))).rows[0]
        assert row.unread == 0  # answering reads the conversation


async def test_an_answer_can_go_to_the_clients_portal(hub: Resources, tmp_path: Path) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        anna = principal_of(w.anna)
        assert await reply_channels(db, anna, w.email) == ["email", "portal"]
        sent = await send_reply(db, anna, _ctx(hub, tmp_path, presence=True), w.email.id,
                                "Zie het portaal", reply_id="r1", channel="portal")
        target = await db.get(Conversation, sent.conversation_id)
        assert target is not None and target.id != w.email.id
        assert (target.channel, target.client_id, sent.delivery_status) == (
            "portal", w.client.id, "sent")
        again = await send_reply(db, anna, _ctx(hub, tmp_path), w.email.id, "Nog iets",
                                 reply_id="r2", channel="portal")
        assert again.conversation_id == target.id
        planned = (await db.scalars(select(PendingNotification))).all()
        assert [(p.portal_user_id, p.link.endswith(f"/portal/conversations/{target.id}"))
                for p in planned] == [(w.daughter.id, True)]


async def test_no_portal_answer_without_portal_users(hub: Resources, tmp_path: Path) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        lonely = await make_client(db, w.org, caseload_of=w.anna)
        email = await make_conversation(db, w.org, client=lonely, channel="email")
        anna = principal_of(w.anna)
        assert await reply_channels(db, anna, email) == ["email"]
        with pytest.raises(InvalidInput, match="portaaltoegang"):
            await send_reply(db, anna, _ctx(hub, tmp_path), email.id, "Hoi", reply_id="x",
                             channel="portal")
        unlinked = await make_conversation(db, w.org, channel="email")
        with pytest.raises(InvalidInput, match="koppel"):
            await send_reply(db, anna, _ctx(hub, tmp_path), unlinked.id, "Hoi",
                             reply_id="y", channel="portal")


async def test_unconnected_channels_say_so(hub: Resources, tmp_path: Path) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        whatsapp = await make_conversation(db, w.org, client=w.client, channel="whatsapp")
        anna = principal_of(w.anna)
        with pytest.raises(ChannelError, match="nog niet gekoppeld"):
            await send_reply(db, anna, _ctx(hub, tmp_path), whatsapp.id, "Hoi", reply_id="w")
        with pytest.raises(InvalidInput):
            await send_reply(db, anna, _ctx(hub, tmp_path), w.email.id, "Hoi", reply_id="n",
                             channel="note")
        with pytest.raises(Forbidden):
            await send_reply(db, principal_of(w.daughter), _ctx(hub, tmp_path), w.email.id,
                             "Hoi", reply_id="p")
