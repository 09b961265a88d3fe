"""Streams a socket can watch: staff chat rooms and client conversations.

For each: who may read it (checked at subscribe time and again when rights change), and
the frames after a given sequence number, read from the database exactly as they went
out live. Portal users never see internal notes: those frames are skipped for them (the
sequence number still advances, so skipping is not mistaken for a gap).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from sqlalchemy import Executable, Integer, and_, bindparam, case, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.chat.access import membership_of
from hub.chat.messages import chat_payload, message_frame
from hub.db.models import ChatMessage, Conversation, Message, Room, Staff
from hub.db.models.messaging import Channel, Direction
from hub.inbox.store import message_payload
from hub.realtime.protocol import StreamRef, encode
from hub.realtime.topics import conversation_channel, room_channel
from hub.security import audit
from hub.security.access import conversation_visibility
from hub.security.principal import Principal

# a subscription without ``after`` starts this many positions back
DEFAULT_BACKLOG = 50
NO_ROWS = 2**31 - 1  # "after" past every sequence number: rights and last_seq only


@dataclasses.dataclass(frozen=True)
class Page:
    frames: list[tuple[int, str]]  # (position in the stream, frame text), in order
    cursor: int  # continue after this position
    more: bool  # the page was full: read again from ``cursor``
    last_seq: int = 0  # the stream's last sequence number in the same snapshot
    client_id: int | None = None  # a conversation's client, for the audit log


def channel_of(org: int, ref: StreamRef) -> str:
    if ref.kind == "room":
        return room_channel(org, ref.id)
    return conversation_channel(org, ref.id)


def hidden_for(who: Principal, payload: dict[str, Any]) -> bool:
    """A live frame this viewer must not get (internal notes for portal users)."""
    if who.kind != "portal" or payload.get("type") not in ("message", "message_updated"):
        return False
    message = payload.get("message") or {}
    return bool(message.get("direction") == Direction.NOTE.value
                or message.get("channel") == Channel.NOTE.value)


async def last_seq_of(db: AsyncSession, ref: StreamRef) -> int:
    model = Room if ref.kind == "room" else Conversation
    return int(await db.scalar(select(model.last_seq).where(model.id == ref.id)) or 0)


async def read(db: AsyncSession, who: Principal, ref: StreamRef, after: int,
               limit: int) -> Page | None:
    """The frames after ``after``, or None when ``who`` may not read the stream.

    One statement: the right to read, the stream's last sequence number and the rows
    come from one snapshot. So a message stored after someone lost access is never in
    a read that still found them allowed, and everything up to ``last_seq`` that was
    committed is in the rows.
    """
    if ref.kind == "room":
        return await _room_page(db, who, ref.id, after, limit)
    return await _conversation_page(db, who, ref.id, after, limit)


async def audit_opened(db: AsyncSession, who: Principal, ref: StreamRef,
                       page: Page | None) -> None:
    """Reading a client conversation is audited (NEN 7513), and so is a refusal."""
    if ref.kind != "conversation":
        return
    if page is not None:
        await audit.record(db, who, audit.Event.READ, client_id=page.client_id,
                           object_ref=ref.name, detail="live gesprek geopend")
        return
    client_id = await db.scalar(select(Conversation.client_id).where(
        Conversation.id == ref.id, Conversation.organisation_id == who.organisation_id))
    await audit.record(db, who, audit.Event.DENIED, client_id=client_id, object_ref=ref.name,
                       outcome=audit.Outcome.DENIED, detail="live gesprek geweigerd")


async def open_stream(db: AsyncSession, who: Principal, ref: StreamRef) -> int | None:
    """The stream's last sequence number when ``who`` may read it, else None; audited
    like a subscribe (the rule the websocket applies, for tests and other callers)."""
    page = await read(db, who, ref, NO_ROWS, 1)
    await audit_opened(db, who, ref, page)
    return page.last_seq if page is not None else None


def _page(frames: list[tuple[int, str]], last_seq: int, after: int, limit: int,
          rows: int, client_id: int | None = None) -> Page:
    if rows >= limit:
        return Page(frames, frames[-1][0] if frames else after, True, last_seq, client_id)
    return Page(frames, max(last_seq, after, frames[-1][0] if frames else 0), False, last_seq,
                client_id)


@functools.cache
def _room_read() -> Executable:
    """Built once: building this statement costs more CPU than running it (a reconnect
    storm runs it a thousand times a second), and a reused statement keeps its cache key."""
    after = bindparam("after", type_=Integer)
    position = case((ChatMessage.seq > after, ChatMessage.seq), else_=ChatMessage.changed_seq)
    return (select(Room.last_seq, ChatMessage, Staff.name).select_from(Room)
            .outerjoin(ChatMessage, and_(ChatMessage.room_id == Room.id, or_(
                ChatMessage.seq > after, ChatMessage.changed_seq > after)))
            .outerjoin(Staff, Staff.id == ChatMessage.sender_staff_id)
            .where(Room.id == bindparam("room_id", type_=Integer),
                   membership_of(bindparam("org", type_=Integer),
                                 bindparam("staff_id", type_=Integer)))
            .order_by(position).limit(bindparam("limit", type_=Integer)))


async def _room_page(db: AsyncSession, who: Principal, room_id: int, after: int,
                     limit: int) -> Page | None:
    if who.kind != "staff":
        return None  # portal users and tokens are never in a room
    rows = (await db.execute(_room_read(), {
        "after": after, "room_id": room_id, "org": who.organisation_id,
        "staff_id": who.user_id, "limit": limit})).all()
    if not rows:
        return None  # not a member, or no such room: the same answer
    frames = [_room_frame(m, name or "", after) for _, m, name in rows if m is not None]
    return _page(frames, int(rows[0][0]), after, limit, len(frames))


def _room_frame(message: ChatMessage, sender_name: str, after: int) -> tuple[int, str]:
    payload = chat_payload(message, sender_name)
    if message.seq > after:  # new to this client: as a message, in its current form
        return message.seq, encode(message_frame("message", message.room_id, message.seq,
                                                 payload))
    kind = "message_deleted" if message.deleted_at is not None else "message_edited"
    seq = int(message.changed_seq or 0)
    return seq, encode(message_frame(kind, message.room_id, seq, payload))


async def _conversation_page(db: AsyncSession, who: Principal, conversation_id: int,
                             after: int, limit: int) -> Page | None:
    joined = and_(Message.conversation_id == Conversation.id, Message.seq > after)
    if who.kind == "portal":  # internal notes are not part of a portal user's stream
        joined = and_(joined, Message.direction != Direction.NOTE.value,
                      Message.channel != Channel.NOTE.value)
    rows = (await db.execute(
        select(Conversation.last_seq, Conversation.client_id, Message).select_from(Conversation)
        .outerjoin(Message, joined)
        .where(Conversation.id == conversation_id, conversation_visibility(who))
        .order_by(Message.seq).limit(limit))).all()
    if not rows:
        return None
    stream = f"conversation:{conversation_id}"
    frames = [(m.seq, encode({"type": "message", "stream": stream, "seq": m.seq,
                              "message": message_payload(m)})) for _, _, m in rows if m]
    return _page(frames, int(rows[0][0]), after, limit, len(frames), rows[0][1])
