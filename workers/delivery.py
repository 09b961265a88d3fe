"""Delivery state of an outbound message, shared by every send job (mail, WhatsApp,
Messenger).

A send moves a message from "queued" to "sent" or "failed" exactly once: each change
is one conditional UPDATE on ``delivery_status == queued``, so a repeated or concurrent
run of the same job changes nothing the first run already did (invariant 3).
"""

from __future__ import annotations

import logging

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Conversation, Message
from hub.db.models.messaging import DeliveryStatus
from hub.events import unit_of_work
from hub.inbox.store import announce_update
from hub.resources import Resources

log = logging.getLogger(__name__)
ERROR_CHARS = 2000


async def note_attempt(hub: Resources, message_id: int, error: str) -> None:
    """A try failed and will be retried: count it and show the error meanwhile."""
    async with unit_of_work(hub.sessions, hub.events) as session:
        await session.execute(update(Message).where(
            Message.id == message_id, Message.delivery_status == DeliveryStatus.QUEUED,
        ).values(send_attempts=Message.send_attempts + 1, delivery_error=error[:ERROR_CHARS]))
        await announce(session, message_id)


async def finish(hub: Resources, message_id: int, status: DeliveryStatus,
                 error: str | None, *, remote_id: str | None = None) -> None:
    """Queued -> sent/failed, once. The channel's id for the message (``remote_id``) is
    kept even when a status webhook moved the message along first."""
    async with unit_of_work(hub.sessions, hub.events) as session:
        if remote_id is not None:
            await session.execute(update(Message).where(
                Message.id == message_id, Message.remote_id.is_(None),
            ).values(remote_id=remote_id))
        result = await session.execute(update(Message).where(
            Message.id == message_id, Message.delivery_status == DeliveryStatus.QUEUED,
        ).values(delivery_status=status.value,
                 delivery_error=(error or None) and error[:ERROR_CHARS],
                 send_attempts=Message.send_attempts + 1).returning(Message.id))
        if result.scalar_one_or_none() is not None:
            await announce(session, message_id)
    log.info("message %s: %s %s", message_id, status.value, error or "")


async def announce(session: AsyncSession, message_id: int) -> None:
    """Tell open conversations that the message's delivery state changed."""
    message = await session.get(Message, message_id, populate_existing=True)
    if message is None:
        return
    conversation = await session.get(Conversation, message.conversation_id)
    if conversation is not None:
        announce_update(session, conversation, message)
