"""Fetched mail into the inbox: normalise -> deduplicate -> match -> thread -> store.

One fetched batch is one transaction: its messages, their receipts
``(mailbox, UIDVALIDITY, UID)`` and the mailbox checkpoint commit together, so a crash
anywhere either keeps the whole batch or none of it, and the next poll resumes exactly
after the last committed UID (no loss, no double). Parsing happens before the
transaction opens (it is pure CPU work and may run in a process pool).

Deduplication (invariant 2), in this order:
- a receipt for the same (mailbox, UIDVALIDITY, UID) means the UID was handled;
- the same Message-ID in the organisation is the same mail (fetched again after a
  UIDVALIDITY change, or delivered to two mailboxes, or our own reply coming back) when
  the sender is the same or the content fingerprint is equal;
- the same Message-ID from a *different* sender with different content is a different
  mail with a bogus or colliding id: it is stored under ``<id>#<fingerprint prefix>``,
  which is stable, so fetching that one again is still recognised;
- no Message-ID at all: ``sha256:<fingerprint>``, stable for the same content.

If storing a batch fails, each message is retried in its own transaction, and one that
still fails goes to quarantine with the reason; the others are not held up by it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

from sqlalchemy import case, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.engine import SessionFactory
from hub.db.models import EmailReceipt, Mailbox, Message
from hub.db.models.messaging import Channel
from hub.errors import Conflict
from hub.events import Events, unit_of_work
from hub.inbox import quarantine
from hub.inbox.attachments import AttachmentStore
from hub.inbox.ingest_batch import BatchPlan, Seen, blobs
from hub.inbox.normalise import Inbound, Limits, Unparseable, parse_email
from hub.security import audit
from hub.security.principal import Principal

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Fetched:
    """One mail as the poller got it; ``truncated_from`` is the real size of a message
    of which only a prefix was fetched because it was over the cap."""

    uid: int
    raw: bytes
    truncated_from: int | None = None


@dataclasses.dataclass
class Parsed:
    fetched: Fetched
    inbound: Inbound | None
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class MailboxRef:
    """What ingest needs of a mailbox (a plain snapshot, safe to pass around); ``id`` is
    None only when retrying an item whose mailbox was deleted meanwhile."""

    id: int | None
    organisation_id: int


@dataclasses.dataclass
class IngestResult:
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    already_done: int = 0
    message_ids: list[int] = dataclasses.field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.already_done += other.already_done
        self.message_ids.extend(other.message_ids)

    @property
    def handled(self) -> int:
        return self.stored + self.duplicates + self.quarantined + self.already_done


def parse_one(item: Fetched, limits: Limits) -> Parsed:
    try:
        return Parsed(item, parse_email(item.raw, limits, truncated_from=item.truncated_from))
    except Unparseable as exc:
        return Parsed(item, None, exc.reason)
    except Exception as exc:  # boundary: any parser bug quarantines this one mail only
        log.warning("could not parse uid %s", item.uid, exc_info=True)
        return Parsed(item, None, f"parser failed: {exc!r}")


def parse_batch(items: Sequence[Fetched], limits: Limits) -> list[Parsed]:
    """Pure; module level so a process pool can run it."""
    return [parse_one(item, limits) for item in items]


class MailIngest:
    def __init__(self, sessions: SessionFactory, events: Events, store: AttachmentStore,
                 mailbox: MailboxRef) -> None:
        self.sessions = sessions
        self.events = events
        self.store = store
        self.mailbox = mailbox

    async def store_batch(self, uidvalidity: int, parsed: Sequence[Parsed]) -> IngestResult:
        """Store a parsed batch and advance the checkpoint, all in one transaction."""
        try:
            return await self._commit(uidvalidity, parsed)
        except Exception as exc:  # boundary: find the one message that breaks the batch
            if transient(exc):
                raise
            log.warning("mailbox %s: batch failed, storing one by one", self.mailbox.id,
                        exc_info=True)
        result = IngestResult()
        for item in parsed:
            try:
                result.add(await self._commit(uidvalidity, [item], careful=True))
            except Exception as exc:  # boundary: quarantine it and go on
                if transient(exc):
                    raise
                failed = Parsed(item.fetched, None, f"could not store: {exc!r}")
                result.add(await self._commit(uidvalidity, [failed], careful=True))
        return result

    async def _commit(self, uidvalidity: int, parsed: Sequence[Parsed],
                      careful: bool = False) -> IngestResult:
        result = IngestResult()
        # raw mails and attachments go to disk in a thread while the database works,
        # and are all there before the commit (a row never points at a missing file)
        writing = None if careful else asyncio.ensure_future(asyncio.to_thread(
            self.store.put_many, blobs([(p.inbound, p.fetched.raw) for p in parsed
                                        if p.inbound is not None])))
        try:
            async with unit_of_work(self.sessions, self.events) as session:
                await self._write(session, uidvalidity, parsed, careful, result)
                if writing is not None:
                    await writing
        finally:
            if writing is not None and not writing.done():
                await asyncio.gather(writing, return_exceptions=True)
        return result

    async def _write(self, session: AsyncSession, uidvalidity: int, parsed: Sequence[Parsed],
                     careful: bool, result: IngestResult) -> None:
        done = await self._receipted(session, uidvalidity, [p.fetched.uid for p in parsed])
        todo = [p for p in parsed if p.fetched.uid not in done]
        result.already_done = len(parsed) - len(todo)
        plan = await self.plan(session, [p.inbound for p in todo if p.inbound], careful)
        receipts: list[tuple[int, Seen | None]] = []
        # nothing is written while deciding; the batch is written at once below
        with session.no_autoflush:
            for item in todo:
                seen = await self._decide(session, uidvalidity, item, plan, result)
                receipts.append((item.fetched.uid, seen))
        result.message_ids += [m.id for m in await plan.write()]
        session.add_all(plan.attachments)
        session.add_all(self._receipt(uidvalidity, uid, seen) for uid, seen in receipts)
        if parsed:
            await self._advance(session, uidvalidity, max(p.fetched.uid for p in parsed))

    async def plan(self, session: AsyncSession, inbounds: Sequence[Inbound],
                   careful: bool = True) -> BatchPlan:
        return await BatchPlan.load(session, self.mailbox.organisation_id, self.mailbox.id,
                                    self.store, inbounds, careful)

    async def _decide(self, session: AsyncSession, uidvalidity: int, item: Parsed,
                      plan: BatchPlan, result: IngestResult) -> Seen | None:
        if item.inbound is None:
            await quarantine.add(session, self.mailbox.organisation_id, raw=item.fetched.raw,
                                 reason=item.error or "unparseable",
                                 mailbox_id=self.mailbox.id,
                                 external_ref=f"{uidvalidity}/{item.fetched.uid}")
            result.quarantined += 1
            return None
        seen, created = await plan.take(item.inbound, item.fetched.raw)
        if created:
            result.stored += 1
            if seen.id is not None:  # careful: stored already
                result.message_ids.append(seen.id)
        else:
            result.duplicates += 1
        return seen

    def _receipt(self, uidvalidity: int, uid: int, seen: Seen | None) -> EmailReceipt:
        assert self.mailbox.id is not None
        return EmailReceipt(organisation_id=self.mailbox.organisation_id,
                            mailbox_id=self.mailbox.id, uidvalidity=uidvalidity, uid=uid,
                            message_id=seen.id if seen is not None else None)

    async def _receipted(self, session: AsyncSession, uidvalidity: int,
                         uids: list[int]) -> set[int]:
        rows = await session.scalars(select(EmailReceipt.uid).where(
            EmailReceipt.mailbox_id == self.mailbox.id,
            EmailReceipt.uidvalidity == uidvalidity, EmailReceipt.uid.in_(uids)))
        return set(rows)

    async def _advance(self, session: AsyncSession, uidvalidity: int, top: int) -> None:
        """Move the checkpoint forward (never back) in the batch's own transaction."""
        await session.execute(update(Mailbox).where(Mailbox.id == self.mailbox.id).values(
            uidvalidity=uidvalidity,
            last_uid=case((Mailbox.last_uid < top, top), else_=Mailbox.last_uid),
        ).execution_options(synchronize_session=False))


def transient(exc: BaseException) -> bool:
    """A failure of the database connection, not of this mail: retry later, never
    quarantine (the next poll starts again from the committed checkpoint)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError)


async def retry_quarantined(sessions: SessionFactory, events: Events, store: AttachmentStore,
                            limits: Limits, who: Principal, item_id: int) -> Message | None:
    """Take a quarantined mail in again (after the cause was fixed); the message it became,
    or None when it still fails (the item then says why, and counts the retry)."""
    async with unit_of_work(sessions, events) as session:
        # a WhatsApp/Messenger item is JSON, not mail: its own page replays it as a webhook
        item = await quarantine.get_item(session, who.organisation_id, item_id,
                                         source=Channel.EMAIL.value)
        if item.resolved_at is not None:
            raise Conflict("dit item is al verwerkt", id=item_id)
        mailbox = await session.get(Mailbox, item.mailbox_id) if item.mailbox_id else None
        ref = MailboxRef(mailbox.id if mailbox else None, who.organisation_id)
        message, error = await _retake(session, MailIngest(sessions, events, store, ref),
                                       parse_one(Fetched(0, item.raw), limits))
        await quarantine.mark_retried(session, item, message_id=message.id if message else None,
                                      reason=error)
        await audit.record(session, who, audit.Event.CHANGE, object_ref=f"quarantine:{item.id}",
                           outcome=audit.Outcome.SUCCESS if message else audit.Outcome.FAILED,
                           detail=f"retry: message {message.id}" if message
                           else f"retry failed: {error}")
    return message


async def _retake(session: AsyncSession, ingest: MailIngest,
                  parsed: Parsed) -> tuple[Message | None, str | None]:
    if parsed.inbound is None:
        return None, parsed.error
    try:
        async with session.begin_nested():
            plan = await ingest.plan(session, [parsed.inbound])
            seen, _ = await plan.take(parsed.inbound, parsed.fetched.raw)
            session.add_all(plan.attachments)
            message = await session.get(Message, seen.id)
    except Exception as exc:  # boundary: the item stays in quarantine with the new reason
        log.warning("quarantine retry failed", exc_info=True)
        return None, f"could not store: {exc!r}"
    return message, None
