"""What the conversation and client pages read: right messages, right people, audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from hub.channels import portal
from hub.db.engine import transaction
from hub.db.models import AuditRecord, CannedReply, ClientContact, ScheduledFollowUp
from hub.errors import NotFound
from hub.inbox import actions
from hub.inbox.client_record import load_client_record
from hub.inbox.detail import load_thread
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


async def test_thread_for_staff_and_portal(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        org = await make_org(db)
        team = await make_team(db, org)
        anna = await make_staff(db, org, team=team, name="Anna de Boer")
        bram = await make_staff(db, org, team=team, name="Bram Visser")
        await make_staff(db, org, name="Olga Smit")  # no care relationship
        await make_staff(db, org, team=team, name="Oud Collega", active=False)
        client = await make_client(db, org, team=team)
        daughter = await make_portal_user(db, org, clients=(client,))
        db.add(CannedReply(organisation_id=org.id, title="Groet", body="Met vriendelijke groet"))
        conv = await make_conversation(db, org, client=client, channel="portal")
        question = await portal.receive(db, principal_of(daughter), text="Vraag",
                                        client_msg_id="q1", conversation_id=conv.id)
        await actions.add_note(db, principal_of(anna), conv.id, "Intern")
        staff_view = await load_thread(db, principal_of(anna), conv.id)
        assert [i.message.body_text for i in staff_view.items] == ["Vraag", "Intern"]
        assert [s.name for s in staff_view.colleagues] == ["Anna de Boer", "Bram Visser"]
        assert [c.title for c in staff_view.canned] == ["Groet"]
        assert staff_view.client is not None and staff_view.client.id == client.id
        portal_view = await load_thread(db, principal_of(daughter), conv.id)
        assert [i.message.id for i in portal_view.items] == [question.id]
        assert portal_view.colleagues == [] and portal_view.canned == []
        reads = (await db.scalars(select(AuditRecord).where(
            AuditRecord.event == "read", AuditRecord.object_ref == f"conversation:{conv.id}"))
        ).all()
        assert [(r.user_type, r.client_id) for r in reads] == [
            ("staff", client.id), ("portal", client.id)]
        with pytest.raises(NotFound):
            await load_thread(db, principal_of(bram), conv.id + 999)


async def test_client_record_joins_every_channel(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        org = await make_org(db)
        team = await make_team(db, org, name="Team Zuid")
        anna = await make_staff(db, org, team=team)
        outsider = await make_staff(db, org)
        client = await make_client(db, org, team=team, caseload_of=anna)
        db.add(ClientContact(organisation_id=org.id, client_id=client.id, name="Ingrid",
                             relation="family", email="ingrid@familie.test"))
        await make_portal_user(db, org, clients=(client,), relation="family", name="Ingrid")
        t0 = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
        mail = await make_conversation(db, org, client=client, channel="email")
        chat = await make_conversation(db, org, client=client, channel="whatsapp")
        await inbound(db, mail, "Per mail", at=t0)
        await inbound(db, chat, "Per app", at=t0 + dt.timedelta(hours=1))
        await inbound(db, mail, "Weer per mail", at=t0 + dt.timedelta(hours=2))
        db.add(ScheduledFollowUp(organisation_id=org.id, client_id=client.id,
                                 due_at=t0 + dt.timedelta(days=7), dedupe_key="f1"))
        await db.flush()
        record = await load_client_record(db, principal_of(anna), client.id)
        assert [e.message.body_text for e in record.timeline] == [
            "Weer per mail", "Per app", "Per mail"]
        assert [e.conversation.channel for e in record.timeline] == [
            "email", "whatsapp", "email"]
        assert [r.conversation.id for r in record.conversations] == [mail.id, chat.id]
        assert [c.name for c in record.contacts] == ["Ingrid"]
        assert {(c.kind, c.name) for c in record.carers} == {
            ("staff", anna.name), ("team", "Team Zuid")}
        assert [(u.name, rel) for u, rel in record.portal_users] == [("Ingrid", "family")]
        assert len(record.followups) == 1
        with pytest.raises(NotFound):
            await load_client_record(db, principal_of(outsider), client.id)
        line = await db.scalar(select(AuditRecord).where(
            AuditRecord.object_ref == f"client:{client.id}"))
        assert line is not None and line.user_id == anna.id
