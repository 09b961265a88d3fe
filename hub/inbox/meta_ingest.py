"""WhatsApp and Messenger webhook items into the inbox, exactly once each.

``MetaIngest.take`` gets one parsed ``Batch`` (every entry, change, message and status of
one webhook delivery) and, inside the caller's transaction:

- stores each message through ``store_message``, idempotent by its ``wamid`` / ``mid``
  (invariant 2): Meta's redeliveries and our own retries find it and change nothing;
- matches and threads it (``hub.inbox.meta_party``) and attaches the files the worker
  downloaded beforehand (no network inside the transaction);
- recognises Messenger echoes of our own sends (our ``zh:<id>`` metadata, or the stored
  remote id) and stores no second copy;
- moves our outbound messages along sent -> delivered -> read (never back: "delivered"
  after "read" is ignored) or to failed with Meta's error (``hub.inbox.meta_status``);
- quarantines, with its raw JSON, every item the adapter could not read and every item
  that fails to store, each in its own savepoint, so one bad item holds up no other;
  ``retake_quarantined`` offers such an item again once its cause is fixed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from hub import events
from hub.channels.items import Batch, InboundItem
from hub.db.base import utcnow
from hub.db.models import ChannelAccount, Conversation, Message, WebhookDelivery
from hub.db.models.messaging import Channel, DeliveryStatus, Direction
from hub.errors import Conflict, InvalidInput
from hub.events import enqueue
from hub.inbox import meta_status, quarantine
from hub.inbox.attachments import AttachmentStore, FileData, attach_files
from hub.inbox.meta_party import conversation_for, display_party, lock_party, match_party
from hub.inbox.store import NewMessage, find_existing, store_message
from hub.security import audit
from hub.security.principal import Principal

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Downloads:
    """Files fetched before the transaction, by the external id of their message."""

    files: dict[str, list[FileData]] = dataclasses.field(default_factory=dict)
    skipped: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    echoes: int = 0
    statuses: int = 0
    quarantined: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)
    message_ids: list[int] = dataclasses.field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


class MetaIngest:
    def __init__(self, session: AsyncSession, store: AttachmentStore,
                 accounts: dict[str, ChannelAccount], ref: str) -> None:
        self.session = session
        self.store = store
        self.accounts = accounts
        self.ref = ref  # e.g. "webhook:42", kept with quarantined items

    async def take(self, batch: Batch, downloads: Downloads | None = None) -> IngestResult:
        downloads = downloads or Downloads()
        result = IngestResult()
        await self._lock_parties(batch)
        for rejected in batch.rejected:
            await self._quarantine(rejected.channel, rejected.account_id, rejected.raw,
                                   f"onleesbaar: {rejected.reason}", result)
        for item in batch.items:
            await self._guarded(item.channel, item.account_id, item.raw, result,
                                self._item(item, downloads, result))
        for status in batch.statuses:
            account = self._account(status.account_id, result)
            if account is not None:
                await self._guarded(status.channel, status.account_id, status.raw, result,
                                    meta_status.apply(self.session, account, status, result))
        return result

    async def _lock_parties(self, batch: Batch) -> None:
        """Take every party's lock up front, in one order: two workers taking in two
        deliveries with the same people never wait on each other in a circle."""
        parties = sorted({(a.organisation_id, a.kind, i.party) for i in batch.items
                          if (a := self.accounts.get(i.account_id)) is not None})
        for organisation_id, channel, party in parties:
            await lock_party(self.session, organisation_id, channel, party)

    async def _guarded(self, channel: str, account_id: str, raw: Any, result: IngestResult,
                       work: Any) -> None:
        """Run one item in a savepoint; a failure quarantines it and the rest go on."""
        try:
            # what the item emitted does not go out once its savepoint is rolled back
            async with events.savepoint(self.session):
                await work
        except Exception as exc:  # boundary: one bad item must not block the delivery
            if transient(exc):
                raise
            log.warning("%s: %s item failed", self.ref, channel, exc_info=True)
            await self._quarantine(channel, account_id, raw,
                                   f"kon niet worden opgeslagen: {exc!r}", result)

    def _account(self, account_id: str, result: IngestResult) -> ChannelAccount | None:
        # a switched-off account still takes messages in (only sending stops): what a
        # client wrote is never dropped
        account = self.accounts.get(account_id)
        if account is None:
            result.note(f"geen gekoppeld account {account_id!r}")
        return account

    async def _quarantine(self, channel: str, account_id: str, raw: Any, reason: str,
                          result: IngestResult) -> None:
        account = self.accounts.get(account_id)
        if account is None:
            result.note(f"{reason} (account {account_id!r} onbekend)")
            return
        await quarantine.add(self.session, account.organisation_id, raw=_raw_bytes(raw),
                             reason=reason, source=channel, external_ref=self.ref)
        result.quarantined += 1

    async def _item(self, item: InboundItem, downloads: Downloads,
                    result: IngestResult) -> None:
        account = self._account(item.account_id, result)
        if account is None:
            return
        org = account.organisation_id
        existing = await find_existing(self.session, org, item.channel, item.external_id)
        if existing is not None:
            result.duplicates += 1
            return
        if item.echo:
            await self._echo(account, item, downloads, result)
            return
        message = await self._inbound(account, item, downloads)
        if message is None:
            result.duplicates += 1
        else:
            result.stored += 1
            result.message_ids.append(message.id)

    async def _inbound(self, account: ChannelAccount, item: InboundItem,
                       downloads: Downloads) -> Message | None:
        match = await match_party(self.session, account.organisation_id, item.channel,
                                  item.party)
        name = match.contact_name or item.profile_name or display_party(item.channel,
                                                                        item.party)
        conversation = await conversation_for(self.session, account, match, name)
        body = await self._body(account, item)
        new = NewMessage(
            channel=item.channel, direction=Direction.INBOUND.value,
            external_id=item.external_id, body_text=body, full_text=body,
            sender_name=name[:200], sender_address=item.party[:254],
            sender_contact_id=match.contact_id if conversation.client_id else None,
            meta=_meta(item, match.candidates), created_at=_when(item.timestamp),
            skipped_attachments=downloads.skipped.get(item.external_id, []))
        return await self._store(conversation, new, downloads.files.get(item.external_id))

    async def _store(self, conversation: Conversation, new: NewMessage,
                     files: list[FileData] | None) -> Message | None:
        before = (conversation.last_message_at, conversation.last_inbound_at)
        message, created = await store_message(self.session, conversation, new)
        if not created:
            return None
        _keep_latest(conversation, before)
        if files:
            attach_files(self.session, self.store, conversation.organisation_id, message.id,
                         files)
        return message

    async def _body(self, account: ChannelAccount, item: InboundItem) -> str:
        if item.kind != "reaction":
            return item.text
        if not item.text:
            return "(reactie ingetrokken)"
        target = await self._find(account, item.reaction_to) if item.reaction_to else None
        quoted = (target.body_text or "").strip().replace("\n", " ")[:80] if target else ""
        return f'{item.text} (reactie op "{quoted}")' if quoted else f"{item.text} (reactie)"

    async def _find(self, account: ChannelAccount, vendor_id: str) -> Message | None:
        return await self.session.scalar(select(Message).where(
            Message.organisation_id == account.organisation_id,
            Message.channel == account.kind,
            or_(Message.external_id == vendor_id, Message.remote_id == vendor_id)).limit(1))

    async def _echo(self, account: ChannelAccount, item: InboundItem, downloads: Downloads,
                    result: IngestResult) -> None:
        """The page's copy of a message it sent: ours is known, anyone else's is kept."""
        ours = await meta_status.own_message(self.session, account, item.external_id,
                                             item.echo_metadata)
        if ours is not None:
            await meta_status.mark_sent_by_echo(self.session, ours, item.external_id)
            result.echoes += 1
            return
        match = await match_party(self.session, account.organisation_id, item.channel,
                                  item.party)
        conversation = await conversation_for(
            self.session, account, match,
            match.contact_name or display_party(item.channel, item.party))
        new = NewMessage(
            channel=item.channel, direction=Direction.OUTBOUND.value,
            external_id=item.external_id, body_text=item.text, full_text=item.text,
            sender_name=account.name[:200], meta=_meta(item, ()) | {"sent_elsewhere": True},
            delivery_status=DeliveryStatus.SENT.value, created_at=_when(item.timestamp),
            skipped_attachments=downloads.skipped.get(item.external_id, []))
        message = await self._store(conversation, new, downloads.files.get(item.external_id))
        if message is not None:
            message.remote_id = item.external_id
            result.stored += 1
            result.message_ids.append(message.id)


def _meta(item: InboundItem, candidates: tuple[int, ...]) -> dict[str, Any]:
    meta: dict[str, Any] = {"kind": item.kind, "account": item.account_id}
    if item.profile_name:
        meta["profile_name"] = item.profile_name
    if item.reply_to:
        meta["reply_to"] = item.reply_to
    if item.reaction_to:
        meta["reaction_to"] = item.reaction_to
    if len(candidates) > 1:
        meta["candidate_clients"] = list(candidates)
    return meta


def _when(stamp: dt.datetime | None) -> dt.datetime | None:
    """The vendor's time of the message, never in the future (a skewed clock)."""
    if stamp is None:
        return None
    return min(stamp, utcnow())


def _keep_latest(conversation: Conversation,
                 before: tuple[dt.datetime | None, dt.datetime | None]) -> None:
    """A late redelivery of an older message must not move the activity (or the
    24-hour window that ``last_inbound_at`` opens) back in time."""
    last_message, last_inbound = before
    if last_message and conversation.last_message_at and last_message > \
            conversation.last_message_at:
        conversation.last_message_at = last_message
    if last_inbound and conversation.last_inbound_at and last_inbound > \
            conversation.last_inbound_at:
        conversation.last_inbound_at = last_inbound


def _raw_bytes(raw: Any) -> bytes:
    return json.dumps(raw, default=str, ensure_ascii=False).encode()


# deadlock, serialization failure, lock not available: the database's trouble, not the item's
_RETRY_STATES = frozenset({"40P01", "40001", "55P03"})


def transient(exc: BaseException) -> bool:
    """A failure of the database connection, not of this item: retry the whole job."""
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if exc.connection_invalidated or state in _RETRY_STATES:
            return True
    return isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError)


async def retake_quarantined(session: AsyncSession, who: Principal, item_id: int) -> int:
    """Offer a quarantined WhatsApp/Messenger item to the worker again, once its cause
    is fixed (an account connected, a bug mended); the id of the new delivery.

    The quarantine keeps a webhook body holding just that item, so this is a replay of a
    small, already verified delivery. Should it fail again, it is quarantined anew.
    """
    item = await quarantine.get_item(session, who.organisation_id, item_id)
    if item.source not in (Channel.WHATSAPP, Channel.MESSENGER):
        raise InvalidInput("dit item komt niet van WhatsApp of Messenger", id=item_id)
    if item.resolved_at is not None:
        raise Conflict("dit item is al verwerkt", id=item_id)
    delivery = WebhookDelivery(organisation_id=who.organisation_id, source=item.source,
                               raw=item.raw)
    session.add(delivery)
    await session.flush()
    item.resolved_at = utcnow()
    item.retries = (item.retries or 0) + 1
    await audit.record(session, who, audit.Event.CHANGE, object_ref=f"quarantine:{item.id}",
                       detail=f"opnieuw aangeboden als webhook:{delivery.id}")
    enqueue(session, "process_webhook", delivery.id, job_id=f"webhook:{delivery.id}")
    return delivery.id
