"""Which conversation an email belongs to.

In order of trust:

1. our own token: every Message-ID we send is ``<zh.TOKEN.RANDOM@domain>``, TOKEN being
   the conversation's ``thread_token``; a reply names it in In-Reply-To or References,
   so it finds its conversation even when the mail program dropped the other headers
   or the message it answers was never stored here;
2. In-Reply-To, then References (newest first), against stored Message-IDs;
3. only as a last resort, the subject: a reply ("Re:", "Antw:", ...) to a recent
   conversation with the same base subject *and the same sender*; never across senders.

Otherwise the mail starts a new conversation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.base import utcnow
from hub.db.models import Conversation, Message
from hub.db.models.messaging import Channel
from hub.inbox.normalise import Inbound

_TOKEN = re.compile(r"^zh\.([A-Za-z0-9_-]{4,40})\.[A-Za-z0-9_-]+@")
_REPLY_PREFIX = re.compile(
    r"^\s*((re|aw|antw|antwoord|sv|vs|r|wg|fw|fwd|doorst|tr)\s*(\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.I)
_ANSWER_PREFIX = re.compile(r"^\s*(re|aw|antw|antwoord|sv|vs|r)\s*(\[\d+\]|\(\d+\))?\s*[:：]",
                            re.I)
SUBJECT_WINDOW = dt.timedelta(days=30)


def new_thread_token() -> str:
    return secrets.token_hex(8)


def make_message_id(thread_token: str, domain: str) -> str:
    """A Message-ID (without angle brackets) that carries the conversation's token."""
    return f"zh.{thread_token}.{secrets.token_hex(8)}@{domain or 'zorghub.invalid'}"


def thread_tokens(ids: list[str]) -> list[str]:
    return [m.group(1) for m in (_TOKEN.match(i) for i in ids) if m]


def base_subject(subject: str) -> str:
    """The subject without reply/forward prefixes, lower-case, spaces collapsed."""
    return " ".join(_REPLY_PREFIX.sub("", subject).split()).lower()


def is_reply_subject(subject: str) -> bool:
    return bool(_ANSWER_PREFIX.match(subject))


@dataclasses.dataclass
class ThreadIndex:
    """Conversations that the In-Reply-To and References of a batch of mail point at,
    loaded in two queries for the whole batch; messages planned in the batch are added
    as they are decided, so an answer to a mail of the same batch finds it too."""

    by_token: dict[str, Conversation]
    by_message_id: dict[str, Conversation]

    @classmethod
    async def load(cls, session: AsyncSession, organisation_id: int,
                   inbounds: Sequence[Inbound]) -> ThreadIndex:
        ids = {i for inbound in inbounds for i in _referenced(inbound)}
        tokens = set(thread_tokens(list(ids)))
        by_token: dict[str, Conversation] = {}
        by_message_id: dict[str, Conversation] = {}
        if tokens:
            rows = await session.scalars(select(Conversation).where(
                Conversation.organisation_id == organisation_id,
                Conversation.thread_token.in_(tokens)))
            by_token = {c.thread_token: c for c in rows}
        if ids:
            pairs = await session.execute(
                select(Message.external_id, Conversation)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.organisation_id == organisation_id,
                       Message.channel == Channel.EMAIL.value, Message.external_id.in_(ids)))
            by_message_id = {external_id: c for external_id, c in pairs}
        return cls(by_token, by_message_id)

    def find(self, inbound: Inbound) -> Conversation | None:
        """By our token first, then by Message-ID, most specific reference first."""
        ids = _referenced(inbound)
        for token in thread_tokens(ids):
            if token in self.by_token:
                return self.by_token[token]
        return next((self.by_message_id[i] for i in ids if i in self.by_message_id), None)


def _referenced(inbound: Inbound) -> list[str]:
    """In-Reply-To, then References newest first, without repeats."""
    return list(dict.fromkeys(inbound.in_reply_to + inbound.references[::-1]))


async def find_conversation(session: AsyncSession, organisation_id: int, inbound: Inbound,
                            index: ThreadIndex | None = None) -> Conversation | None:
    if index is None:
        index = await ThreadIndex.load(session, organisation_id, [inbound])
    found = index.find(inbound)
    if found is None and is_reply_subject(inbound.subject):
        found = await _by_subject(session, organisation_id, inbound)
    return found


async def _by_subject(session: AsyncSession, organisation_id: int,
                      inbound: Inbound) -> Conversation | None:
    wanted = base_subject(inbound.subject)
    senders = {a for a in (inbound.sender_address, inbound.reply_address) if a}
    if not wanted or not senders:
        return None
    candidates = (await session.scalars(select(Conversation).where(
        Conversation.organisation_id == organisation_id,
        Conversation.channel == Channel.EMAIL.value,
        Conversation.external_party.in_(senders),
        Conversation.last_message_at >= utcnow() - SUBJECT_WINDOW,
    ).order_by(Conversation.last_message_at.desc()).limit(20))).all()
    return next((c for c in candidates if base_subject(c.subject) == wanted), None)
