"""Small builders for inbox tests: principals for factory users and stored messages."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Conversation, Message, PortalUser, Staff
from hub.inbox.store import NewMessage, store_message
from hub.security.principal import Principal

_ids = itertools.count(1)


def principal_of(user: Staff | PortalUser) -> Principal:
    """The principal a signed-in ``user`` would have (second factor done)."""
    if isinstance(user, Staff):
        return Principal("staff", user.organisation_id, user.id, user.name, user.role,
                         ip="127.0.0.1", user_agent="pytest", second_factor=True)
    return Principal("portal", user.organisation_id, user.id, user.name, "portal",
                     ip="127.0.0.1", user_agent="pytest", second_factor=True)


async def inbound(session: AsyncSession, conversation: Conversation, text: str = "Goedemorgen",
                  *, at: dt.datetime | None = None, sender: str = "Ingrid Bakker",
                  subject: str = "") -> Message:
    """An inbound message on the conversation's own channel, stored through the store."""
    new = NewMessage(channel=conversation.channel, direction="in",
                     external_id=f"test-{next(_ids)}@zorg.test", body_text=text,
                     full_text=text, subject=subject, sender_name=sender, created_at=at)
    message, created = await store_message(session, conversation, new)
    assert created
    return message
