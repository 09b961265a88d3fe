"""Inbound items that could not be taken in: kept byte for byte with the reason.

Nothing that arrives is dropped (invariant 4): a message that cannot be parsed or stored
lands here, the poller goes on with the next one, and an admin can read the reason,
download the raw bytes and retry once the cause is fixed. A retry that works marks the
item resolved and links the mailbox receipt to the new message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.base import utcnow
from hub.db.models import EmailReceipt, QuarantinedItem
from hub.errors import NotFound
from hub.events import emit
from hub.realtime.topics import inbox_channel

MAX_REASON_CHARS = 4000


async def add(session: AsyncSession, organisation_id: int, *, raw: bytes, reason: str,
              source: str = "email", mailbox_id: int | None = None,
              external_ref: str = "") -> QuarantinedItem:
    """Keep ``raw`` with ``reason``; the same bytes already waiting are not kept twice."""
    digest = hashlib.sha256(raw).hexdigest()
    waiting = await session.scalar(select(QuarantinedItem).where(
        QuarantinedItem.organisation_id == organisation_id,
        QuarantinedItem.raw_sha256 == digest, QuarantinedItem.resolved_at.is_(None)))
    if waiting is not None:
        return waiting
    item = QuarantinedItem(organisation_id=organisation_id, source=source,
                           mailbox_id=mailbox_id, external_ref=external_ref[:255], raw=raw,
                           raw_sha256=digest, reason=reason[:MAX_REASON_CHARS])
    session.add(item)
    emit(session, inbox_channel(organisation_id),
         {"type": "quarantine_added", "source": source, "mailbox_id": mailbox_id})
    return item


async def list_items(session: AsyncSession, organisation_id: int, *,
                     source: str | None = None, include_resolved: bool = False,
                     limit: int = 200) -> Sequence[QuarantinedItem]:
    """Newest first; only items of ``source`` (``email``, ``whatsapp``, ...) when given."""
    query = select(QuarantinedItem).where(QuarantinedItem.organisation_id == organisation_id)
    if source is not None:
        query = query.where(QuarantinedItem.source == source)
    if not include_resolved:
        query = query.where(QuarantinedItem.resolved_at.is_(None))
    return (await session.scalars(
        query.order_by(QuarantinedItem.id.desc()).limit(limit))).all()


async def get_item(session: AsyncSession, organisation_id: int, item_id: int, *,
                   source: str | None = None) -> QuarantinedItem:
    """One of the organisation's items; of ``source`` only, when given (each source has
    its own pages and its own way to retry: another's item is not found there)."""
    query = select(QuarantinedItem).where(
        QuarantinedItem.id == item_id, QuarantinedItem.organisation_id == organisation_id)
    if source is not None:
        query = query.where(QuarantinedItem.source == source)
    item = await session.scalar(query)
    if item is None:
        raise NotFound("geen item in quarantaine", id=item_id)
    return item


async def mark_retried(session: AsyncSession, item: QuarantinedItem, *,
                       message_id: int | None, reason: str | None) -> None:
    """Record a retry: resolved (with the message it became) or still failing."""
    item.retries = (item.retries or 0) + 1
    if message_id is None:
        item.reason = (reason or item.reason)[:MAX_REASON_CHARS]
        return
    item.resolved_at = utcnow()
    receipt = await _receipt_of(session, item)
    if receipt is not None and receipt.message_id is None:
        receipt.message_id = message_id


async def _receipt_of(session: AsyncSession, item: QuarantinedItem) -> EmailReceipt | None:
    uidvalidity, _, uid = item.external_ref.partition("/")
    if item.mailbox_id is None or not (uidvalidity.isdigit() and uid.isdigit()):
        return None
    return await session.scalar(select(EmailReceipt).where(
        EmailReceipt.mailbox_id == item.mailbox_id,
        EmailReceipt.uidvalidity == int(uidvalidity), EmailReceipt.uid == int(uid)))
