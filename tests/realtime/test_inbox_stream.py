"""The ``inbox`` stream: one subscription per open inbox, carrying conversation changes
only to staff who may see the conversation, with ids and state but no content."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from hub.db.engine import transaction
from hub.db.models import AuditRecord, Conversation
from hub.events import unit_of_work
from hub.inbox.store import NewMessage, store_message
from hub.resources import Resources
from tests.conftest import LiveServer
from tests.factories import make_client, make_conversation, make_org, make_staff
from tests.realtime.conftest import Zorg
from tests.realtime.wsclient import WsClient, login


async def _mail(hub: Resources, conversation_id: int, external_id: str) -> None:
    async with unit_of_work(hub.sessions, hub.events) as db:
        conversation = await db.get(Conversation, conversation_id)
        assert conversation is not None
        await store_message(db, conversation, NewMessage(
            channel="email", direction="in", external_id=external_id,
            body_text="Geheime vraag over medicatie", subject="Medicatie"))


async def _follow(ws: WsClient) -> None:
    await ws.send({"type": "subscribe", "stream": "inbox", "ref": "i1"})
    assert (await ws.expect(lambda f: f.get("ref") == "i1"))["type"] == "ack"


async def test_inbox_events_reach_only_staff_who_may_see_them(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    async with transaction(hub.sessions) as db:
        client = await make_client(db, zorg.org, caseload_of=zorg.anouk, given_name="Wim")
        linked = await make_conversation(db, zorg.org, client=client)
        unlinked = await make_conversation(db, zorg.org)
        elsewhere = await make_org(db)
        stranger = await make_staff(db, elsewhere, name="Sanne Mulder")
    anouk = await login(hub, live.url, zorg.anouk)
    bram = await login(hub, live.url, zorg.bram)  # no care relationship with Wim
    other = await login(hub, live.url, stranger)
    for ws in (anouk, bram, other):
        await _follow(ws)
    await _mail(hub, linked.id, "m1@familie.test")
    got = await anouk.expect("conversation_updated")
    assert (got["stream"], got["conversation_id"], got["client_id"]) == (
        "inbox", linked.id, client.id)
    assert "Medicatie" not in str(got) and "medicatie" not in str(got)
    await _mail(hub, unlinked.id, "m2@onbekend.test")  # unlinked: every colleague triages
    assert (await anouk.expect("conversation_updated"))["conversation_id"] == unlinked.id
    assert (await bram.expect("conversation_updated"))["conversation_id"] == unlinked.id
    await asyncio.sleep(0.3)
    assert [f["conversation_id"] for f in bram.of_type("conversation_updated")] == [unlinked.id]
    assert other.of_type("conversation_updated") == []
    async with hub.sessions() as db:
        opened = await db.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.object_ref == "inbox", AuditRecord.user_id == zorg.anouk.id))
    assert opened == 1
    for ws in (anouk, bram, other):
        await ws.close()


async def test_portal_users_have_no_inbox_and_unsubscribe_stops_it(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    async with transaction(hub.sessions) as db:
        unlinked = await make_conversation(db, zorg.org)
    anouk = await login(hub, live.url, zorg.anouk)
    await _follow(anouk)
    await anouk.send({"type": "unsubscribe", "stream": "inbox"})
    assert (await anouk.expect("unsubscribed"))["stream"] == "inbox"
    await _mail(hub, unlinked.id, "m3@onbekend.test")
    await asyncio.sleep(0.3)
    assert anouk.of_type("conversation_updated") == []
    await anouk.close()
