"""Portal live chat: a client's representative and the care team in one conversation.
Internal notes never reach the portal, also not on resume; other conversations, rooms
and presence are closed to portal users."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from hub.db.engine import transaction
from hub.db.models import AuditRecord, Conversation, Message
from hub.events import unit_of_work
from hub.inbox.store import NewMessage, store_message
from hub.resources import Resources
from tests.conftest import LiveServer
from tests.factories import make_client, make_conversation, make_portal_user
from tests.realtime.conftest import Zorg
from tests.realtime.wsclient import login


async def _portal_world(hub: Resources, zorg: Zorg) -> tuple[Conversation, Conversation, object]:
    async with transaction(hub.sessions) as db:
        client = await make_client(db, zorg.org, caseload_of=zorg.anouk, given_name="Wim")
        other = await make_client(db, zorg.org, caseload_of=zorg.anouk)
        mine = await make_conversation(db, zorg.org, client=client, channel="portal")
        theirs = await make_conversation(db, zorg.org, client=other, channel="portal")
        daughter = await make_portal_user(db, zorg.org, clients=(client,), relation="family",
                                          name="Ingrid Bakker")
    return mine, theirs, daughter


async def _note(hub: Resources, conversation_id: int, text: str) -> None:
    async with unit_of_work(hub.sessions, hub.events) as db:
        conversation = await db.get(Conversation, conversation_id)
        assert conversation is not None
        await store_message(db, conversation, NewMessage(
            channel="note", direction="note", external_id=f"note:{text}", body_text=text))


async def test_portal_and_staff_chat_and_notes_stay_internal(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    mine, _, daughter = await _portal_world(hub, zorg)
    stream = f"conversation:{mine.id}"
    portal = await login(hub, live.url, daughter)  # type: ignore[arg-type]
    staff = await login(hub, live.url, zorg.anouk)
    assert (await portal.subscribe(stream))["type"] == "synced"
    assert (await staff.subscribe(stream))["type"] == "synced"
    ack = await portal.post(stream, "Hoe gaat het met vader?", "p1")
    assert (ack["seq"], ack["duplicate"]) == (1, False)
    assert (await portal.post(stream, "Hoe gaat het met vader?", "p1"))["duplicate"] is True
    assert (await staff.expect("message"))["message"]["direction"] == "in"
    await _note(hub, mine.id, "Intern: dochter belt vaak")
    assert (await staff.expect("message"))["message"]["body_text"].startswith("Intern")
    reply = await staff.post(stream, "Goed, hij heeft gewandeld.", "s1")
    assert reply["seq"] == 3
    got = await portal.expect(lambda f: f.get("type") == "message" and f["seq"] == 3)
    assert got["message"]["direction"] == "out"
    await asyncio.sleep(0.2)
    assert portal.message_seqs(stream) == [1, 3]
    again = await login(hub, live.url, daughter)  # type: ignore[arg-type]
    await again.subscribe(stream, after=0)
    assert again.message_seqs(stream) == [1, 3]
    assert [f["seq"] for f in again.of_type("synced")] == [3]
    async with hub.sessions() as db:
        stored = (await db.scalars(select(Message.external_id).where(
            Message.conversation_id == mine.id).order_by(Message.seq))).all()
        reads = await db.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.event == "read", AuditRecord.object_ref == stream))
    assert stored == [f"portal:{daughter.id}:p1", "note:Intern: dochter belt vaak",  # type: ignore[attr-defined]
                      f"staff:{zorg.anouk.id}:s1"]
    assert reads == 3
    for ws in (portal, staff, again):
        await ws.close()


async def test_portal_users_see_only_their_own_conversations(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    _, theirs, daughter = await _portal_world(hub, zorg)
    portal = await login(hub, live.url, daughter)  # type: ignore[arg-type]
    for stream in (f"conversation:{theirs.id}", f"room:{zorg.room.id}"):
        assert (await portal.subscribe(stream))["code"] == "not_allowed"
    assert (await portal.post(f"conversation:{theirs.id}", "hallo?", "x1"))["code"] == (
        "not_allowed")
    await portal.send({"type": "subscribe", "stream": "presence"})
    assert (await portal.expect("error"))["code"] == "not_allowed"
    async with hub.sessions() as db:
        denied = await db.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.event == "denied", AuditRecord.object_ref == f"conversation:{theirs.id}"))
    assert denied == 1
    await portal.close()


async def test_the_staff_socket_does_not_take_a_portal_cookie(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    _, _, daughter = await _portal_world(hub, zorg)
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    from tests.helpers.auth import session_cookie
    from tests.realtime.wsclient import ws_url

    name, value = await session_cookie(hub, daughter)  # type: ignore[arg-type]
    try:
        await connect(ws_url(live.url, "/ws"), additional_headers={"Cookie": f"{name}={value}"})
    except InvalidStatus as refused:
        assert refused.response.status_code == 403
    else:
        raise AssertionError("a portal cookie opened the staff socket")
