"""Delivery failures that come back by mail: find them, and mark our outbound message.

A standard bounce is a DSN (RFC 3464: ``multipart/report; report-type=delivery-status``)
naming the failed recipient, a status and a diagnostic, with the original message or
its headers attached; the original Message-ID leads to our outbound ``Message``. Plenty of
servers still send free-form bounces; for those, a sender like ``MAILER-DAEMON`` or a
subject like "Undelivered Mail" plus one of *our* Message-IDs (``<zh.TOKEN.RANDOM@...>``)
quoted somewhere in the text is enough.
"""

from __future__ import annotations

import dataclasses
import re
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Conversation
from hub.db.models import Message as StoredMessage
from hub.db.models.messaging import DeliveryStatus, Direction
from hub.inbox.mailids import message_ids
from hub.inbox.store import announce_update

OUR_ID = re.compile(rb"<?(zh\.[A-Za-z0-9_-]{4,40}\.[A-Za-z0-9_-]{4,40}@[A-Za-z0-9.-]{1,200})>?")
_BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@", "mail-daemon@")
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (status notification|failure|has failed)|failure notice"
    r"|returned mail|mail delivery failed|onbestelbaar|niet (bezorgd|afgeleverd)"
    r"|unzustellbar|non remis", re.I)


@dataclasses.dataclass(frozen=True)
class Bounce:
    original_message_id: str | None
    recipient: str = ""
    status: str = ""
    action: str = "failed"
    diagnostic: str = ""

    @property
    def failed(self) -> bool:
        return self.action.lower() == "failed"

    def describe(self) -> str:
        parts = [p for p in (self.recipient, self.status, self.diagnostic) if p]
        return " — ".join(parts) or "bounce without details"


def find_bounce(msg: EmailMessage, sender: str, subject: str, raw: bytes) -> Bounce | None:
    """The bounce this message reports, or None when it is not a bounce."""
    try:
        if msg.get_content_type() == "multipart/report" and \
                str(msg.get_param("report-type", "")).lower() == "delivery-status":
            return _from_dsn(msg, raw)
    except Exception:  # a broken report still falls through to the free-form check
        pass
    if sender.startswith(_BOUNCE_SENDERS) or _BOUNCE_SUBJECT.search(subject):
        match = OUR_ID.search(raw)
        if match:
            return Bounce(match.group(1).decode("ascii"), diagnostic=subject[:300])
    return None


def _from_dsn(msg: EmailMessage, raw: bytes) -> Bounce:
    fields: dict[str, str] = {}
    original: str | None = None
    for part in msg.iter_parts():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            fields = _recipient_fields(part)
        elif kind in ("message/rfc822", "text/rfc822-headers") and original is None:
            original = _original_id(part)
    if original is None:
        match = OUR_ID.search(raw)
        original = match.group(1).decode("ascii") if match else None
    return Bounce(
        original_message_id=original,
        recipient=_after_type(fields.get("final-recipient", "")),
        status=fields.get("status", "").strip()[:20],
        action=fields.get("action", "failed").strip().lower() or "failed",
        diagnostic=_after_type(fields.get("diagnostic-code", ""))[:1000],
    )


def _recipient_fields(part: Message) -> dict[str, str]:
    """The first per-recipient block of a delivery-status part (after the per-message one)."""
    blocks = part.get_payload()
    if not isinstance(blocks, list):
        return {}
    for block in blocks[1:] or blocks:
        if not isinstance(block, Message):
            continue
        found = {k.lower(): " ".join(str(v).split()) for k, v in block.items()}
        if "action" in found or "status" in found:
            return found
    return {}


def _after_type(value: str) -> str:
    """``rfc822; jan@example.test`` -> ``jan@example.test``."""
    return value.split(";", 1)[1].strip() if ";" in value else value.strip()


def _original_id(part: Message) -> str | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        value = payload[0].get("message-id")
    else:
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            return None
        value = BytesHeaderParser().parsebytes(data).get("message-id")
    found = message_ids(str(value)) if value else []
    return found[0] if found else None


async def apply_bounce(session: AsyncSession, organisation_id: int,
                       bounce: Bounce) -> StoredMessage | None:
    """Mark the outbound message this bounce is about as failed; returns it when found."""
    if not bounce.original_message_id:
        return None
    original = await session.scalar(select(StoredMessage).where(
        StoredMessage.organisation_id == organisation_id, StoredMessage.channel == "email",
        StoredMessage.external_id == bounce.original_message_id,
        StoredMessage.direction == Direction.OUTBOUND.value))
    if original is None:
        return None
    if bounce.failed and original.delivery_status != DeliveryStatus.FAILED:
        original.delivery_status = DeliveryStatus.FAILED.value
        original.delivery_error = bounce.describe()
        conversation = await session.get(Conversation, original.conversation_id)
        if conversation is not None:
            announce_update(session, conversation, original)
    return original
