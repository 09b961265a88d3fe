"""Snoozed conversations wake up when their time comes.

The sweep looks at the database, not at jobs: arq does not catch up missed cron runs and
a deferred job can be lost, so whatever is due is reopened by the next sweep. It is one
conditional UPDATE per conversation (``status = 'snoozed' AND snoozed_until <= now``),
so a sweep running twice, or next to a person who just changed the status, reopens a
conversation once and never overrides a newer choice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.base import utcnow
from hub.db.models import Conversation
from hub.db.models.messaging import ConversationStatus
from hub.inbox.actions import announce
from hub.security import audit
from hub.security.principal import system_principal

BATCH = 500


async def due_ids(session: AsyncSession, now: dt.datetime, limit: int = BATCH) -> list[int]:
    query = (select(Conversation.id)
             .where(Conversation.status == ConversationStatus.SNOOZED.value,
                    Conversation.snoozed_until <= now)
             .order_by(Conversation.snoozed_until).limit(limit))
    return list((await session.scalars(query)).all())


async def wake(session: AsyncSession, conversation_id: int, now: dt.datetime) -> bool:
    """Reopen one conversation if it is still snoozed and due; True when it was."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id,
               Conversation.status == ConversationStatus.SNOOZED.value,
               Conversation.snoozed_until <= now)
        .values(status=ConversationStatus.OPEN.value, snoozed_until=None,
                version=Conversation.version + 1)
        .returning(Conversation.id)
        .execution_options(synchronize_session=False))
    if result.scalar_one_or_none() is None:
        return False
    conversation = await session.get(Conversation, conversation_id, populate_existing=True)
    assert conversation is not None
    who = system_principal(conversation.organisation_id, "sluimertimer")
    await audit.record(session, who, audit.Event.CHANGE, client_id=conversation.client_id,
                       object_ref=f"conversation:{conversation.id}",
                       detail="snooze ended; reopened")
    announce(session, conversation, "status")
    return True


async def reopen_due(session: AsyncSession, now: dt.datetime | None = None) -> int:
    """Reopen every snoozed conversation whose time has come; returns how many."""
    moment = now or utcnow()
    woken = 0
    for conversation_id in await due_ids(session, moment):
        woken += await wake(session, conversation_id, moment)
    return woken
