"""What became of the messages we sent over WhatsApp and Messenger.

A delivery status only moves forward: queued -> sent -> delivered -> read. Meta's
webhooks arrive out of order and more than once ("delivered" after "read", the same
"sent" twice); each change is one conditional UPDATE (``WHERE delivery_status IN (lower
ones)``), so a late or repeated status changes nothing and two workers cannot race a
status backwards. "failed" outranks "sent" only: a message Meta says it delivered or the
person read is not shown as failed, and a "delivered" that follows a "failed" (another
device of the same person) wins, clearing the error.

Our messages are found by the id Meta gave them (``Message.remote_id``), or, for a status
that overtook the send job's commit, by our own id that travelled along
(``zh:<message id>``: WhatsApp's ``biz_opaque_callback_data``, Messenger's ``metadata``).
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.channels.items import StatusItem
from hub.db.models import ChannelAccount, Conversation, Message
from hub.db.models.messaging import DeliveryStatus, Direction
from hub.inbox.store import announce_update

RANK = {DeliveryStatus.QUEUED.value: 0, DeliveryStatus.SENT.value: 1,
        DeliveryStatus.FAILED.value: 2, DeliveryStatus.DELIVERED.value: 3,
        DeliveryStatus.READ.value: 4}
REFERENCE_PREFIX = "zh:"
WATERMARK_BATCH = 200


class Notes(Protocol):
    statuses: int

    def note(self, text: str) -> None: ...


def reference(message_id: int) -> str:
    """Our id as it travels with a send, and comes back in statuses and echoes."""
    return f"{REFERENCE_PREFIX}{message_id}"


def _referenced_id(value: str) -> int | None:
    raw = value[len(REFERENCE_PREFIX):] if value.startswith(REFERENCE_PREFIX) else ""
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


async def apply(session: AsyncSession, account: ChannelAccount, status: StatusItem,
                notes: Notes) -> None:
    if status.status not in RANK or status.status == DeliveryStatus.QUEUED:
        notes.note(f"status {status.status!r} genegeerd")
        return
    for remote_id in status.remote_ids:
        message = await find_outbound(session, account, remote_id, status.callback)
        if message is None:
            notes.note("status voor een bericht dat hier niet verstuurd is")
        elif await advance(session, message, status.status, status.error):
            notes.statuses += 1
    if not status.remote_ids and status.watermark is not None:
        notes.statuses += await _up_to_watermark(session, account, status)


async def find_outbound(session: AsyncSession, account: ChannelAccount, remote_id: str,
                        callback: str = "") -> Message | None:
    found = await session.scalar(select(Message).where(
        Message.organisation_id == account.organisation_id, Message.channel == account.kind,
        Message.remote_id == remote_id))
    if found is not None:
        return found
    found = await _by_reference(session, account, callback)
    if found is not None and found.remote_id is None:
        found.remote_id = remote_id
        await session.flush()
    return found


async def own_message(session: AsyncSession, account: ChannelAccount, mid: str,
                      metadata: str) -> Message | None:
    """The outbound message a Messenger echo is a copy of, when we sent it."""
    found = await _by_reference(session, account, metadata)
    if found is not None:
        return found
    return await session.scalar(select(Message).where(
        Message.organisation_id == account.organisation_id, Message.channel == account.kind,
        Message.remote_id == mid))


async def mark_sent_by_echo(session: AsyncSession, message: Message, mid: str) -> None:
    if message.remote_id is None:
        message.remote_id = mid
        await session.flush()
    await advance(session, message, DeliveryStatus.SENT.value, None)


async def _by_reference(session: AsyncSession, account: ChannelAccount,
                        value: str) -> Message | None:
    message_id = _referenced_id(value)
    if message_id is None:
        return None
    return await session.scalar(select(Message).where(
        Message.id == message_id, Message.organisation_id == account.organisation_id,
        Message.channel == account.kind, Message.direction == Direction.OUTBOUND.value))


def _lower_than(status: str) -> list[str]:
    return [name for name, rank in RANK.items() if rank < RANK[status]]


async def advance(session: AsyncSession, message: Message, status: str,
                  error: str | None) -> bool:
    """Move ``message`` forward to ``status``; False when it is there or further."""
    values: dict[str, Any] = {"delivery_status": status, "delivery_error": None}
    if status == DeliveryStatus.FAILED:
        values["delivery_error"] = (error or "mislukt volgens Meta")[:2000]
    changed = (await session.execute(
        update(Message).where(Message.id == message.id,
                              Message.delivery_status.in_(_lower_than(status)))
        .values(**values).returning(Message.id)
        .execution_options(synchronize_session=False))).scalar_one_or_none()
    if changed is None:
        return False
    await _announce(session, message)
    return True


async def _announce(session: AsyncSession, message: Message) -> None:
    await session.refresh(message)
    conversation = await session.get(Conversation, message.conversation_id)
    if conversation is not None:
        announce_update(session, conversation, message)


async def _up_to_watermark(session: AsyncSession, account: ChannelAccount,
                           status: StatusItem) -> int:
    """Messenger: everything we sent to this person up to the watermark."""
    assert status.watermark is not None
    conversations = select(Conversation.id).where(
        Conversation.organisation_id == account.organisation_id,
        Conversation.channel == account.kind, Conversation.external_party == status.party)
    rows = (await session.scalars(select(Message).where(
        Message.conversation_id.in_(conversations),
        Message.direction == Direction.OUTBOUND.value, Message.remote_id.is_not(None),
        Message.delivery_status.in_(_lower_than(status.status)),
        Message.created_at <= status.watermark,
    ).order_by(Message.id).limit(WATERMARK_BATCH))).all()
    changed = 0
    for message in rows:
        changed += await advance(session, message, status.status, None)
    return changed
