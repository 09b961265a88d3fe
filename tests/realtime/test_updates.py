"""Update frames on a conversation stream: a delivery status change reaches the open
views of a message they already hold (it carries that message's ``seq``), an update of an
internal note never reaches the portal, and a portal user reading over the socket turns
staff replies "read" exactly like the portal page does."""

from __future__ import annotations

from sqlalchemy import select

from hub.db.models import Conversation, Message
from hub.events import unit_of_work
from hub.inbox.store import NewMessage, announce_update, store_message
from hub.resources import Resources
from tests.conftest import LiveServer
from tests.realtime.conftest import Zorg
from tests.realtime.test_portal import _portal_world
from tests.realtime.wsclient import login


async def _store(hub: Resources, conversation_id: int, new: NewMessage) -> int:
    async with unit_of_work(hub.sessions, hub.events) as db:
        conversation = await db.get(Conversation, conversation_id)
        assert conversation is not None
        message, _ = await store_message(db, conversation, new)
        return message.id


async def _set_status(hub: Resources, message_id: int, status: str, error: str = "") -> None:
    async with unit_of_work(hub.sessions, hub.events) as db:
        message = await db.get(Message, message_id)
        assert message is not None
        message.delivery_status, message.delivery_error = status, error
        conversation = await db.get(Conversation, message.conversation_id)
        assert conversation is not None
        await db.flush()
        announce_update(db, conversation, message)


async def test_subscribers_see_updates_of_messages_they_hold(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    mine, _, daughter = await _portal_world(hub, zorg)
    stream = f"conversation:{mine.id}"
    reply = await _store(hub, mine.id, NewMessage(
        channel="portal", direction="out", external_id="staff:r1", body_text="Tot morgen",
        delivery_status="queued"))
    note = await _store(hub, mine.id, NewMessage(
        channel="note", direction="note", external_id="note:n1", body_text="Intern"))
    staff = await login(hub, live.url, zorg.anouk)
    portal = await login(hub, live.url, daughter)  # type: ignore[arg-type]
    assert (await staff.subscribe(stream))["seq"] == 2  # both messages already held
    assert (await portal.subscribe(stream))["seq"] == 2
    for status in ("sent", "delivered"):
        await _set_status(hub, reply, status)
        got = await staff.expect("message_updated")
        assert (got["seq"], got["message"]["delivery_status"]) == (1, status)
    await _set_status(hub, reply, "failed", "mailbox vol")
    got = await staff.expect("message_updated")
    assert got["message"]["delivery_error"] == "mailbox vol"
    await _set_status(hub, note, "failed")
    assert (await staff.expect("message_updated"))["seq"] == 2
    seen = [(f["seq"], f["message"]["delivery_status"]) for f in portal.of_type(
        "message_updated")]
    assert seen == [(1, "sent"), (1, "delivered"), (1, "failed")]  # never the note
    for ws in (staff, portal):
        await ws.close()


async def test_a_portal_read_over_the_socket_marks_staff_replies_read(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    mine, _, daughter = await _portal_world(hub, zorg)
    stream = f"conversation:{mine.id}"
    staff = await login(hub, live.url, zorg.anouk)
    portal = await login(hub, live.url, daughter)  # type: ignore[arg-type]
    await staff.subscribe(stream)
    await portal.subscribe(stream)
    first = await staff.post(stream, "Hij heeft goed geslapen.", "s1")
    await staff.post(stream, "En goed gegeten.", "s2")
    await portal.send({"type": "read", "stream": stream, "seq": first["seq"]})
    assert (await portal.expect("ack"))["seq"] == first["seq"]
    delivery = await staff.expect("delivery")
    assert (delivery["reader"], delivery["up_to"]) == ("portal", first["seq"])
    receipt = await staff.expect("read")
    assert (receipt["user"]["kind"], receipt["seq"]) == ("portal", first["seq"])
    async with hub.sessions() as db:
        statuses = (await db.scalars(select(Message.delivery_status).where(
            Message.conversation_id == mine.id).order_by(Message.seq))).all()
    assert statuses == ["read", "sent"]
    await portal.send({"type": "read", "stream": stream, "seq": 1})  # never moves back
    assert (await portal.expect("ack"))["seq"] == first["seq"]
    for ws in (staff, portal):
        await ws.close()
