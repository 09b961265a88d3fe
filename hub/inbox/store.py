"""Store one message in a conversation, exactly once, then announce it after commit.

Every channel ends here: email, WhatsApp, Messenger, portal and staff replies. A message
is idempotent by ``(organisation, channel, external_id)`` (invariant 2); it gets its
per-conversation sequence number in the same transaction (invariant 1) and events are
emitted to go out only after the commit (``hub.events``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from hub.db.base import utcnow
from hub.db.models import Conversation, Message
from hub.db.models.messaging import ConversationStatus, DeliveryStatus, Direction
from hub.errors import NotFound
from hub.events import emit
from hub.realtime.topics import conversation_channel, inbox_channel

PREVIEW_CHARS = 280


@dataclasses.dataclass
class NewMessage:
    """What a channel (or a person) says; the store adds seq, timestamps and events."""

    channel: str
    direction: str
    external_id: str
    body_text: str = ""
    full_text: str = ""
    body_html: str = ""
    subject: str = ""
    sender_name: str = ""
    sender_address: str = ""
    sender_staff_id: int | None = None
    sender_portal_user_id: int | None = None
    sender_contact_id: int | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    delivery_status: str = DeliveryStatus.RECEIVED.value
    skipped_attachments: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    created_at: dt.datetime | None = None


async def find_existing(session: AsyncSession, organisation_id: int, channel: str,
                        external_id: str) -> Message | None:
    return await session.scalar(select(Message).where(
        Message.organisation_id == organisation_id, Message.channel == channel,
        Message.external_id == external_id))


async def store_message(session: AsyncSession, conversation: Conversation,
                        new: NewMessage) -> tuple[Message, bool]:
    """Insert ``new`` into ``conversation``; returns (message, created).

    A message already stored under the same external id is returned unchanged with
    ``created=False``, also when a concurrent writer inserted it a moment ago.
    """
    org = conversation.organisation_id
    existing = await find_existing(session, org, new.channel, new.external_id)
    if existing is not None:
        return existing, False
    try:
        async with session.begin_nested():
            message, version = await _insert(session, conversation, new)
    except IntegrityError:
        existing = await find_existing(session, org, new.channel, new.external_id)
        if existing is None:
            raise
        return existing, False
    _touch_conversation(conversation, message, version)
    _announce(session, conversation, message)
    return message, True


async def store_new_messages(session: AsyncSession,
                             items: Sequence[tuple[Conversation, NewMessage]]) -> list[Message]:
    """Insert many messages whose external ids the caller has just looked up in this
    transaction (the mail poller, a batch at a time). The same numbering, touches and
    announcements as ``store_message``, in three statements: one sequence bump for all
    conversations, one multi-row INSERT, one UPDATE of the touched conversations. A
    concurrent duplicate fails the caller's transaction (IntegrityError)."""
    if not items:
        return []
    bumps = Counter(conversation.id for conversation, _ in items)
    added = case(dict(bumps), value=Conversation.id)
    result = await session.execute(
        update(Conversation).where(Conversation.id.in_(list(bumps)))
        .values(last_seq=Conversation.last_seq + added, version=Conversation.version + added)
        .returning(Conversation.id, Conversation.last_seq, Conversation.version)
        .execution_options(synchronize_session=False))
    rows = result.all()
    following = {cid: int(last) - bumps[cid] + 1 for cid, last, _ in rows}
    versions = {cid: int(version) for cid, _, version in rows}
    now = utcnow()
    messages = []
    for conversation, new in items:
        # a shallow copy: asdict() would deep-copy every meta dict
        fields = {f.name: getattr(new, f.name) for f in dataclasses.fields(new)}
        fields["created_at"] = new.created_at or now
        messages.append(Message(organisation_id=conversation.organisation_id,
                                conversation_id=conversation.id,
                                seq=following[conversation.id], **fields))
        following[conversation.id] += 1
    session.add_all(messages)
    await session.flush()
    for (conversation, _), message in zip(items, messages, strict=True):
        _touch_conversation(conversation, message, versions[conversation.id])
        _announce(session, conversation, message)
    return messages


async def _insert(session: AsyncSession, conversation: Conversation,
                  new: NewMessage) -> tuple[Message, int]:
    """The message, stored with the next sequence number; and the conversation's new
    version."""
    fields = dataclasses.asdict(new)
    fields["created_at"] = new.created_at or utcnow()
    seq, version = await _bump(session, conversation.id)
    message = Message(organisation_id=conversation.organisation_id,
                      conversation_id=conversation.id, seq=seq, **fields)
    session.add(message)
    await session.flush()
    return message, version


async def _bump(session: AsyncSession, conversation_id: int) -> tuple[int, int]:
    """``hub.db.sequence.next_seq`` for a conversation, raising its version in the same
    statement: both in SQL, under the row lock, so neither can undo a concurrent
    conditional update (``hub.inbox.actions``) made after the conversation was loaded."""
    row = (await session.execute(
        update(Conversation).where(Conversation.id == conversation_id)
        .values(last_seq=Conversation.last_seq + 1, version=Conversation.version + 1)
        .returning(Conversation.last_seq, Conversation.version)
        .execution_options(synchronize_session=False))).one_or_none()
    if row is None:
        raise NotFound("no such conversation", id=conversation_id)
    return int(row[0]), int(row[1])


def _touch_conversation(conversation: Conversation, message: Message, version: int) -> None:
    # _bump updated the row behind the ORM's back; reflect it without writing it again
    # at flush (an absolute write could undo a concurrent writer's increment on SQLite,
    # where releasing the savepoint already ended the transaction and its lock)
    set_committed_value(conversation, "last_seq", message.seq)
    set_committed_value(conversation, "version", version)
    conversation.last_message_at = message.created_at
    if message.direction == Direction.NOTE:
        return
    conversation.preview = (message.body_text or message.subject)[:PREVIEW_CHARS]
    if message.direction == Direction.INBOUND:
        conversation.last_inbound_at = message.created_at
        if conversation.status in (ConversationStatus.RESOLVED, ConversationStatus.SNOOZED):
            # a new message from outside reopens the conversation
            conversation.status = ConversationStatus.OPEN.value
            conversation.snoozed_until = None


def message_payload(message: Message) -> dict[str, Any]:
    """The JSON shape of a message in realtime frames and the API."""
    return {
        "id": message.id, "conversation_id": message.conversation_id, "seq": message.seq,
        "direction": message.direction, "channel": message.channel,
        "sender_name": message.sender_name, "subject": message.subject,
        "body_text": message.body_text, "body_html": message.body_html,
        "delivery_status": message.delivery_status,
        "delivery_error": message.delivery_error,
        "skipped_attachments": message.skipped_attachments or [],
        "created_at": message.created_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "deleted": message.deleted_at is not None,
    }


def _announce(session: AsyncSession, conversation: Conversation, message: Message) -> None:
    org = conversation.organisation_id
    emit(session, conversation_channel(org, conversation.id),
         {"type": "message", "stream": f"conversation:{conversation.id}",
          "seq": message.seq, "message": message_payload(message)})
    emit(session, inbox_channel(org),
         {"type": "conversation_updated", "conversation_id": conversation.id,
          "client_id": conversation.client_id, "status": conversation.status,
          "seq": message.seq})


def announce_update(session: AsyncSession, conversation: Conversation, message: Message) -> None:
    """Tell open views that a stored message changed (delivery status, error, edit).

    Same stream, same ``seq`` as the original frame: a client replaces the message it
    holds; one that missed this frame sees the new state when it reloads from the database.
    """
    emit(session, conversation_channel(conversation.organisation_id, conversation.id),
         {"type": "message_updated", "stream": f"conversation:{conversation.id}",
          "seq": message.seq, "message": message_payload(message)})
