"""Live chat in a portal conversation: portal users and staff write, both read.

Messages go through ``hub.inbox.store.store_message`` like every channel, so they are
stored once per client message id (namespaced per sender: ``portal:<user>:<id>`` and
``staff:<user>:<id>``), numbered in the conversation and announced after commit. Only
portal conversations take messages over the socket; email, WhatsApp and Messenger
replies go through their outbound queues.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.base import utcnow
from hub.db.models import Conversation, Message, PortalLink, ReadMarker
from hub.db.models.messaging import Channel, DeliveryStatus, Direction
from hub.errors import Conflict, Forbidden
from hub.events import emit
from hub.inbox.store import NewMessage, store_message
from hub.realtime.notify import Audience
from hub.realtime.topics import conversation_channel
from hub.security import audit
from hub.security.access import conversation_visibility
from hub.security.principal import Principal


async def visible_conversation(db: AsyncSession, who: Principal,
                               conversation_id: int) -> Conversation:
    conversation = await db.scalar(select(Conversation).where(
        Conversation.id == conversation_id, conversation_visibility(who)))
    if conversation is None:
        raise Forbidden("U heeft geen toegang tot dit gesprek.")
    return conversation


def _new_message(who: Principal, client_message_id: str, body: str) -> NewMessage:
    if who.kind == "portal":
        return NewMessage(channel=Channel.PORTAL.value, direction=Direction.INBOUND.value,
                          external_id=f"portal:{who.user_id}:{client_message_id}",
                          body_text=body, full_text=body, sender_name=who.name,
                          sender_portal_user_id=who.user_id)
    return NewMessage(channel=Channel.PORTAL.value, direction=Direction.OUTBOUND.value,
                      external_id=f"staff:{who.user_id}:{client_message_id}",
                      body_text=body, full_text=body, sender_name=who.name,
                      sender_staff_id=who.user_id, delivery_status=DeliveryStatus.SENT.value)


async def send(db: AsyncSession, who: Principal, conversation_id: int,
               client_message_id: str, body: str) -> tuple[Message, bool, Audience]:
    """Store a live-chat message once; returns (message, created, who to notify)."""
    conversation = await visible_conversation(db, who, conversation_id)
    if conversation.channel != Channel.PORTAL.value:
        raise Conflict("Alleen portaalgesprekken gaan via de live chat.")
    message, created = await store_message(db, conversation,
                                           _new_message(who, client_message_id, body))
    if not created:
        return message, False, Audience()
    await audit.record(db, who, audit.Event.CREATE, client_id=conversation.client_id,
                       object_ref=f"message:{message.id}", detail="live chat")
    return message, True, await _recipients(db, who, conversation)


async def _recipients(db: AsyncSession, who: Principal,
                      conversation: Conversation) -> Audience:
    """Staff write to the client's portal users; portal users to the assigned staff."""
    if who.kind == "portal":
        staff = conversation.assignee_staff_id
        return Audience(staff=[staff] if staff else [])
    if conversation.client_id is None:
        return Audience()
    users = await db.scalars(select(PortalLink.portal_user_id).where(
        PortalLink.client_id == conversation.client_id,
        PortalLink.organisation_id == conversation.organisation_id))
    return Audience(portal=[int(u) for u in users.all()])


async def mark_read(db: AsyncSession, who: Principal, conversation_id: int, seq: int) -> int:
    """Move ``who``'s read marker forward (never back); returns the position."""
    conversation = await visible_conversation(db, who, conversation_id)
    seq = min(seq, conversation.last_seq)
    marker = await _marker(db, who, conversation)
    if seq <= marker.last_read_seq:
        return marker.last_read_seq
    await db.execute(update(ReadMarker).where(
        ReadMarker.id == marker.id, ReadMarker.last_read_seq < seq)
        .values(last_read_seq=seq, read_at=utcnow()))
    _emit_read(db, who, conversation, seq)
    return seq


async def portal_read(db: AsyncSession, who: Principal, conversation_id: int,
                      seq: int) -> int:
    """A portal user read over the socket: the same function as the portal page
    (``hub.channels.portal.read_up_to``: marker, staff replies "read", ``delivery``
    frame), plus the ``read`` receipt this protocol promises its subscribers."""
    from hub.channels.portal import read_up_to  # the channel imports the inbox, not us

    conversation = await visible_conversation(db, who, conversation_id)
    before = (await _marker(db, who, conversation)).last_read_seq
    position = await read_up_to(db, who, conversation.id, seq)
    if position > before:
        _emit_read(db, who, conversation, position)
    return position


def _emit_read(db: AsyncSession, who: Principal, conversation: Conversation, seq: int) -> None:
    emit(db, conversation_channel(conversation.organisation_id, conversation.id),
         {"type": "read", "stream": f"conversation:{conversation.id}",
          "user": {"kind": who.kind, "id": who.user_id, "name": who.name}, "seq": seq})


async def _marker(db: AsyncSession, who: Principal, conversation: Conversation) -> ReadMarker:
    mine = (ReadMarker.portal_user_id == who.user_id if who.kind == "portal"
            else ReadMarker.staff_id == who.user_id)
    marker = await db.scalar(select(ReadMarker).where(
        ReadMarker.conversation_id == conversation.id, mine))
    if marker is not None:
        return marker
    try:
        async with db.begin_nested():
            marker = ReadMarker(
                organisation_id=conversation.organisation_id, conversation_id=conversation.id,
                staff_id=who.user_id if who.kind == "staff" else None,
                portal_user_id=who.user_id if who.kind == "portal" else None,
                last_read_seq=0)
            db.add(marker)
            await db.flush()
    except IntegrityError:
        return await _marker(db, who, conversation)
    return marker
