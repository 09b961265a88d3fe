"""Chat messages: post (exactly once per client message id), edit, delete, read.

A message takes the room's next sequence number in the transaction that stores it
(invariant 1); an edit or delete takes one too (``changed_seq``), so a client that was
away gets the change when it resumes from the database. The frame for every change is
emitted on ``room_channel`` and leaves only after commit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from hub.chat.access import member_ids
from hub.chat.rooms import room_for
from hub.db.base import utcnow
from hub.db.models import ChatMessage, Room, RoomMember
from hub.db.sequence import next_seq
from hub.errors import Conflict, Forbidden, NotFound
from hub.events import emit
from hub.realtime.topics import room_channel
from hub.security.principal import Principal


@dataclasses.dataclass(frozen=True)
class Posted:
    message: ChatMessage
    created: bool
    room: Room
    # members to tell (mentions first), for offline notifications
    recipients: tuple[int, ...] = ()


def chat_payload(message: ChatMessage, sender_name: str) -> dict[str, Any]:
    """The JSON shape of a chat message in frames and the API."""
    deleted = message.deleted_at is not None
    return {
        "id": message.id, "room_id": message.room_id, "seq": message.seq,
        "sender_staff_id": message.sender_staff_id, "sender_name": sender_name,
        "client_message_id": message.client_message_id,
        "body": "" if deleted else message.body, "mentions": list(message.mentions or []),
        "created_at": message.created_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "deleted": deleted,
    }


def message_frame(kind: str, room_id: int, seq: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "stream": f"room:{room_id}", "seq": seq, "message": payload}


_EXISTING = select(ChatMessage).where(  # built once (see hub.chat.access)
    ChatMessage.room_id == bindparam("room_id"), ChatMessage.sender_staff_id == bindparam("sender"),
    ChatMessage.client_message_id == bindparam("cmid"))


async def _existing(session: AsyncSession, room_id: int, sender: int,
                    client_message_id: str) -> ChatMessage | None:
    found: ChatMessage | None = await session.scalar(_EXISTING, {
        "room_id": room_id, "sender": sender, "cmid": client_message_id})
    return found


async def post_message(session: AsyncSession, who: Principal, room_id: int,
                       client_message_id: str, body: str,
                       mentions: list[int] | None = None) -> Posted:
    """Store a message once; a retry with the same client message id returns the first.

    A retry is found by the unique (room, sender, client message id) when its insert
    fails, not looked up before every insert: retries are rare, sends are not."""
    room = await room_for(session, who, room_id)
    assert who.user_id is not None
    if room.archived:
        existing = await _existing(session, room.id, who.user_id, client_message_id)
        if existing is not None:
            return Posted(existing, False, room)
        raise Conflict("Deze kamer is gearchiveerd.", room_id=room.id)
    members = await member_ids(session, room)
    wanted = [m for m in (mentions or []) if m in members and m != who.user_id]
    try:
        async with session.begin_nested():
            message = await _insert(session, who, room, client_message_id, body, wanted)
    except IntegrityError:
        existing = await _existing(session, room.id, who.user_id, client_message_id)
        if existing is None:
            raise
        return Posted(existing, False, room)
    # reflect what next_seq wrote without writing it again: an absolute write at flush
    # could put back a smaller number after a concurrent sender's increment
    set_committed_value(room, "last_seq", message.seq)
    set_committed_value(room, "last_message_at", message.created_at)
    emit(session, room_channel(room.organisation_id, room.id),
         message_frame("message", room.id, message.seq, chat_payload(message, who.name)))
    others = [m for m in sorted(members) if m != who.user_id and m not in wanted]
    return Posted(message, True, room, tuple(wanted + others))


async def _insert(session: AsyncSession, who: Principal, room: Room, client_message_id: str,
                  body: str, mentions: list[int]) -> ChatMessage:
    now = utcnow()
    message = ChatMessage(
        organisation_id=room.organisation_id, room_id=room.id,
        seq=await next_seq(session, Room, room.id, message_at=now),
        sender_staff_id=who.user_id, client_message_id=client_message_id, body=body,
        mentions=mentions, created_at=now,
    )
    session.add(message)
    await session.flush()
    return message


async def _own_message(session: AsyncSession, who: Principal, room_id: int,
                       seq: int) -> tuple[Room, ChatMessage]:
    room = await room_for(session, who, room_id)
    message = await session.scalar(select(ChatMessage).where(
        ChatMessage.room_id == room.id, ChatMessage.seq == seq))
    if message is None:
        raise NotFound("Dit bericht bestaat niet.", seq=seq)
    if message.sender_staff_id != who.user_id:
        raise Forbidden("Alleen wie het bericht schreef kan het wijzigen.")
    if message.deleted_at is not None:
        raise Conflict("Dit bericht is verwijderd.", seq=seq)
    return room, message


async def edit_message(session: AsyncSession, who: Principal, room_id: int, seq: int,
                       body: str) -> ChatMessage:
    room, message = await _own_message(session, who, room_id, seq)
    message.body = body
    message.edited_at = utcnow()
    await _announce_change(session, who, room, message, "message_edited")
    return message


async def delete_message(session: AsyncSession, who: Principal, room_id: int,
                         seq: int) -> ChatMessage:
    """Blank a message; the row (and its place in the sequence) stays."""
    room, message = await _own_message(session, who, room_id, seq)
    message.body = ""
    message.mentions = []
    message.deleted_at = utcnow()
    await _announce_change(session, who, room, message, "message_deleted")
    return message


async def _announce_change(session: AsyncSession, who: Principal, room: Room,
                           message: ChatMessage, kind: str) -> None:
    message.changed_seq = await next_seq(session, Room, room.id)
    set_committed_value(room, "last_seq", message.changed_seq)
    await session.flush()
    emit(session, room_channel(room.organisation_id, room.id),
         message_frame(kind, room.id, message.changed_seq, chat_payload(message, who.name)))


async def mark_read(session: AsyncSession, who: Principal, room_id: int, seq: int) -> int:
    """Move ``who``'s read position forward (never back); returns the position."""
    room = await room_for(session, who, room_id)
    assert who.user_id is not None
    seq = min(seq, room.last_seq)
    row = await session.scalar(select(RoomMember).where(
        RoomMember.room_id == room.id, RoomMember.staff_id == who.user_id))
    if row is None:  # a team room keeps read positions in rows made on first read
        try:
            async with session.begin_nested():
                row = RoomMember(organisation_id=room.organisation_id, room_id=room.id,
                                 staff_id=who.user_id, last_read_seq=0)
                session.add(row)
                await session.flush()
        except IntegrityError:
            return await mark_read(session, who, room_id, seq)
    if seq <= row.last_read_seq:
        return row.last_read_seq
    await session.execute(update(RoomMember).where(
        RoomMember.id == row.id, RoomMember.last_read_seq < seq).values(last_read_seq=seq))
    emit(session, room_channel(room.organisation_id, room.id),
         {"type": "read", "stream": f"room:{room.id}",
          "user": {"kind": "staff", "id": who.user_id, "name": who.name}, "seq": seq})
    return seq
