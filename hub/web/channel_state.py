"""What the channel admin pages show besides the accounts themselves: each account's
webhook health, its waiting quarantine items, a raw payload made readable, and how a
retried item fared.

``WebhookDelivery`` rows name no account (Meta batches several into one POST), so the
account a delivery or quarantined item is about is read from its own JSON with the same
parsers the worker uses. Only the newest ``HEALTH_WINDOW`` deliveries are read: enough
for "last received, last error", and the page stays fast whatever the traffic.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.channels import messenger, whatsapp
from hub.channels.accounts import KINDS
from hub.channels.items import Batch, Unreadable
from hub.db.models import ChannelAccount, QuarantinedItem, WebhookDelivery
from hub.errors import NotFound
from hub.inbox import quarantine

HEALTH_WINDOW = 300
PREVIEW_BYTES = 64 * 1024
HEX_ROW = 16
_PARSERS: dict[str, Callable[[Any], Batch]] = {
    "whatsapp": whatsapp.parse_webhook, "messenger": messenger.parse_webhook}
_TEXT_CONTROLS = frozenset("\n\r\t")


@dataclasses.dataclass
class Health:
    last_received: dt.datetime | None = None
    last_error: str = ""
    last_error_at: dt.datetime | None = None
    quarantined: int = 0


@dataclasses.dataclass(frozen=True)
class Payload:
    """A raw body made readable: ``kind`` is json, text or hex."""

    kind: str
    text: str
    truncated: bool


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a retried item fared: pending, resolved or failed (with the new reason)."""

    state: str
    reason: str = ""
    new_item_id: int | None = None


def named_accounts(source: str, raw: bytes) -> set[str]:
    """The account ids (phone_number_id, page id) a webhook body names; none when it
    cannot be read."""
    parser = _PARSERS.get(source)
    if parser is None:
        return set()
    try:
        return parser(json.loads(raw)).account_ids()
    except (ValueError, KeyError, TypeError, RecursionError, Unreadable):
        return set()


# --- health of the accounts ---------------------------------------------------------


async def account_health(db: AsyncSession, organisation_id: int,
                         accounts: Sequence[ChannelAccount],
                         waiting: Sequence[QuarantinedItem]) -> dict[int, Health]:
    """Per account id: last webhook received, last error, and how many of the
    ``waiting`` quarantined items are its own."""
    by_key = {(a.kind, a.external_account_id): Health() for a in accounts}
    for delivery in await _recent_deliveries(db, organisation_id):
        for account_id in named_accounts(delivery.source, delivery.raw):
            health = by_key.get((delivery.source, account_id))
            if health is not None:
                _note_delivery(health, delivery)
    for item in waiting:
        for account_id in named_accounts(item.source, item.raw):
            if (item.source, account_id) in by_key:
                by_key[(item.source, account_id)].quarantined += 1
    return {a.id: by_key[(a.kind, a.external_account_id)] for a in accounts}


async def _recent_deliveries(db: AsyncSession,
                             organisation_id: int) -> Sequence[WebhookDelivery]:
    return (await db.scalars(select(WebhookDelivery).where(
        WebhookDelivery.organisation_id == organisation_id,
        WebhookDelivery.source.in_(KINDS),
    ).order_by(WebhookDelivery.received_at.desc(), WebhookDelivery.id.desc())
        .limit(HEALTH_WINDOW))).all()


def _note_delivery(health: Health, delivery: WebhookDelivery) -> None:
    """Deliveries come newest first: the first one seen of each kind wins."""
    if health.last_received is None:
        health.last_received = delivery.received_at
    if delivery.error and health.last_error_at is None:
        health.last_error, health.last_error_at = delivery.error, delivery.received_at


# --- quarantine -----------------------------------------------------------------------


async def waiting_items(db: AsyncSession, organisation_id: int, *,
                        include_resolved: bool = False,
                        limit: int = 200) -> Sequence[QuarantinedItem]:
    """The organisation's quarantined WhatsApp and Messenger items, newest first."""
    query = select(QuarantinedItem).where(QuarantinedItem.organisation_id == organisation_id,
                                          QuarantinedItem.source.in_(KINDS))
    if not include_resolved:
        query = query.where(QuarantinedItem.resolved_at.is_(None))
    return (await db.scalars(query.order_by(QuarantinedItem.id.desc()).limit(limit))).all()


async def meta_item(db: AsyncSession, organisation_id: int, item_id: int) -> QuarantinedItem:
    """One of the organisation's quarantined webhook items (mail has its own pages)."""
    item = await quarantine.get_item(db, organisation_id, item_id)
    if item.source not in KINDS:
        raise NotFound("geen WhatsApp- of Messenger-item in quarantaine", id=item_id)
    return item


async def retake_outcome(db: AsyncSession, organisation_id: int, item: QuarantinedItem,
                         delivery_id: int | None) -> Outcome | None:
    """What became of ``item`` replayed as delivery ``delivery_id`` (None: not known).

    The delivery must carry the item's own bytes, so a guessed id shows nothing of
    another organisation's deliveries.
    """
    delivery = await db.get(WebhookDelivery, delivery_id) if delivery_id else None
    if delivery is None or delivery.source != item.source or delivery.raw != item.raw:
        return None
    if delivery.processed_at is None:
        return Outcome("pending")
    again = await db.scalar(select(QuarantinedItem).where(
        QuarantinedItem.organisation_id == organisation_id,
        QuarantinedItem.external_ref == f"webhook:{delivery.id}",
    ).order_by(QuarantinedItem.id.desc()).limit(1))
    if again is not None:
        return Outcome("failed", again.reason, again.id)
    if delivery.error:
        return Outcome("failed", delivery.error)
    return Outcome("resolved")


# --- the raw payload, readable ------------------------------------------------------------


def payload_view(raw: bytes) -> Payload:
    """Pretty JSON when it parses, else the text, else a hex dump (escaped by the page)."""
    head, truncated = raw[:PREVIEW_BYTES], len(raw) > PREVIEW_BYTES
    pretty = _pretty_json(raw) if not truncated else None
    if pretty is not None:
        return Payload("json", pretty, False)
    text = _plain_text(head, truncated)
    if text is not None:
        return Payload("text", text, truncated)
    return Payload("hex", hex_dump(head), truncated)


def _pretty_json(raw: bytes) -> str | None:
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return None


def _plain_text(raw: bytes, truncated: bool) -> str | None:
    # a cut may split the last character: up to three bytes of it may go
    for cut in range(4 if truncated else 1):
        try:
            text = raw[:len(raw) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return None
    if any(ord(c) < 32 and c not in _TEXT_CONTROLS for c in text):
        return None
    return text


def hex_dump(raw: bytes) -> str:
    """Offset, hex bytes and printable ASCII, 16 bytes a line (as ``xxd`` shows it)."""
    lines = []
    for offset in range(0, len(raw), HEX_ROW):
        chunk = raw[offset:offset + HEX_ROW]
        shown = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {chunk.hex(' '):<47}  {shown}")
    return "\n".join(lines)
