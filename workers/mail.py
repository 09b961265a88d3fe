"""Mail in: one step of one mailbox (``sync_once``), its health, and the worker hooks.

``sync_once`` is the poller's core: compare UIDVALIDITY with the checkpoint (a change
means a full rescan, which Message-ID deduplication keeps free of duplicates), list the
UIDs above the checkpoint with their sizes, fetch them in batches of bounded count and
bytes with ``BODY.PEEK[]``, parse them (in a process pool: ``ParsePool``), and store each
batch with its receipts and the new checkpoint in one transaction; fetching, parsing and
storing of consecutive batches overlap. Only
after that commit is mail flagged or deleted on the server, and only if the mailbox is
configured to. A message over the size cap is fetched in part and says so.

The long-running pollers (IDLE, backoff, Redis lock) are in ``workers.mail_poller``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import AsyncGenerator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

from arq import cron
from sqlalchemy import select, update

from hub.channels.email import ImapMailbox
from hub.channels.email_responses import FolderState
from hub.db.base import utcnow
from hub.db.models import Mailbox
from hub.events import unit_of_work
from hub.inbox.attachments import AttachmentStore
from hub.inbox.ingest import (
    Fetched,
    IngestResult,
    MailboxRef,
    MailIngest,
    Parsed,
    parse_batch,
)
from hub.inbox.mailboxes import imap_config
from hub.inbox.normalise import Limits
from hub.resources import Resources
from workers.mail_poller import PollerSupervisor

log = logging.getLogger(__name__)
BATCH_BYTES = 16 * 1024 * 1024
# how much of a message over the cap is fetched: enough for its headers and text
PREFIX_BYTES = 1024 * 1024


@dataclasses.dataclass
class SyncReport:
    uidvalidity: int
    found: int
    rescanned: bool
    result: IngestResult


class ParsePool:
    """Parsing and sanitising in other processes, overlapped with storing (it is pure
    CPU work). With 0 processes, or after the pool broke, parsing happens inline."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None

    async def parse(self, items: list[Fetched], limits: Limits) -> list[Parsed]:
        if self.processes <= 0:
            return parse_batch(items, limits)
        if self._executor is None:
            # spawn, not fork: the worker holds sockets and threads a fork would copy
            self._executor = ProcessPoolExecutor(self.processes, mp_context=get_context("spawn"))
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, parse_batch, items, limits)
        except BrokenProcessPool:
            log.exception("mail parse pool broke; parsing inline and starting a new pool")
            self._executor = None
            return parse_batch(items, limits)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


async def sync_once(hub: Resources, mailbox_id: int, *, connection: ImapMailbox | None = None,
                    state: FolderState | None = None,
                    parser: ParsePool | None = None) -> SyncReport:
    """Take in everything new in one mailbox. With an open ``connection`` (the poller's)
    failures are the caller's to record; standalone, this records them itself."""
    mailbox = await _load(hub, mailbox_id)
    parser = parser or ParsePool(0)
    if connection is not None and state is not None:
        return await _sync(hub, mailbox, connection, state, parser)
    try:
        async with ImapMailbox(imap_config(mailbox, hub.settings)) as own:
            return await _sync(hub, mailbox, own, await own.open(), parser)
    except Exception as exc:  # boundary: health is recorded, the caller sees the error
        await record_failure(hub, mailbox_id, exc)
        raise


async def _sync(hub: Resources, mailbox: Mailbox, connection: ImapMailbox,
                state: FolderState, parser: ParsePool) -> SyncReport:
    after, rescanned = await _start_after(hub, mailbox, state.uidvalidity)
    pending = await connection.list_new(after)
    ingest = MailIngest(hub.sessions, hub.events, AttachmentStore(hub.settings.attachments_dir),
                        MailboxRef(mailbox.id, mailbox.organisation_id))
    limits = Limits(hub.settings.max_attachment_bytes, hub.settings.max_message_bytes)
    result = IngestResult()
    batches = plan_batches(pending, hub.settings.mail_fetch_batch, BATCH_BYTES,
                           hub.settings.max_message_bytes)
    # three stages at once: fetch batch n+2, parse n+1, store n (in order)
    parsing: asyncio.Future[list[Parsed]] | None = None
    fetching = _fetched(connection, batches, hub.settings.max_message_bytes)
    try:
        async with contextlib.aclosing(fetching):
            async for items in fetching:
                following = asyncio.ensure_future(parser.parse(items, limits))
                if parsing is not None:
                    await _store(connection, mailbox, ingest, state, await parsing, result)
                parsing = following
        if parsing is not None:
            await _store(connection, mailbox, ingest, state, await parsing, result)
    finally:
        if parsing is not None and not parsing.done():
            parsing.cancel()
    await record_success(hub, mailbox.id)
    return SyncReport(state.uidvalidity, len(pending), rescanned, result)


async def _store(connection: ImapMailbox, mailbox: Mailbox, ingest: MailIngest,
                 state: FolderState, parsed: list[Parsed], result: IngestResult) -> None:
    result.add(await ingest.store_batch(state.uidvalidity, parsed))
    await _after_import(connection, mailbox, ingest.store, [p.fetched.uid for p in parsed])


async def _load(hub: Resources, mailbox_id: int) -> Mailbox:
    async with hub.sessions() as session:
        mailbox = await session.get(Mailbox, mailbox_id)
    if mailbox is None:
        raise LookupError(f"no mailbox {mailbox_id}")
    return mailbox


async def _start_after(hub: Resources, mailbox: Mailbox, uidvalidity: int) -> tuple[int, bool]:
    """The UID to continue after; 0 (full rescan) when UIDVALIDITY changed."""
    if mailbox.uidvalidity is None or mailbox.uidvalidity == uidvalidity:
        return mailbox.last_uid, False
    log.warning("mailbox %s: UIDVALIDITY %s -> %s, rescanning", mailbox.id,
                mailbox.uidvalidity, uidvalidity)
    async with unit_of_work(hub.sessions, hub.events) as session:
        await session.execute(update(Mailbox).where(
            Mailbox.id == mailbox.id, Mailbox.uidvalidity == mailbox.uidvalidity,
        ).values(uidvalidity=uidvalidity, last_uid=0))
    return 0, True


def plan_batches(pending: Sequence[tuple[int, int]], max_count: int, max_bytes: int,
                 cap: int) -> list[list[tuple[int, int]]]:
    """Group (uid, size) into fetch batches; a message over ``cap`` goes alone."""
    batches: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    total = 0
    for uid, size in pending:
        if current and (len(current) >= max_count or total + size > max_bytes or size > cap):
            batches.append(current)
            current, total = [], 0
        current.append((uid, size))
        total += size
        if size > cap:
            batches.append(current)
            current, total = [], 0
    if current:
        batches.append(current)
    return batches


async def _fetched(connection: ImapMailbox, batches: list[list[tuple[int, int]]],
                   cap: int) -> AsyncGenerator[list[Fetched], None]:
    """Fetch batch after batch, one ahead, so IMAP and storing overlap."""
    if not batches:
        return
    pending = asyncio.ensure_future(_fetch(connection, batches[0], cap))
    try:
        for index in range(len(batches)):
            items = await pending
            if index + 1 < len(batches):
                pending = asyncio.ensure_future(_fetch(connection, batches[index + 1], cap))
            yield items
    finally:
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending


async def _fetch(connection: ImapMailbox, batch: list[tuple[int, int]],
                 cap: int) -> list[Fetched]:
    if len(batch) == 1 and batch[0][1] > cap:
        uid, size = batch[0]
        return [Fetched(uid, await connection.fetch_prefix(uid, PREFIX_BYTES), size)]
    found = await connection.fetch([uid for uid, _ in batch])
    missing = [uid for uid, _ in batch if uid not in found]
    if missing:  # not vanished, perhaps just left out of a busy answer: ask once more
        found.update(await connection.fetch(missing))
    return [Fetched(uid, found[uid]) for uid, _ in batch if uid in found]


async def _after_import(connection: ImapMailbox, mailbox: Mailbox, store: AttachmentStore,
                        uids: list[int]) -> None:
    """Change mail on the server only now that it is committed, and only if configured."""
    if not uids:
        return
    if mailbox.mark_seen:
        await connection.mark_seen(uids)
    if mailbox.delete_after_import:
        store.sync()  # attachment files on disk before the server copy goes
        await connection.delete(uids)


async def record_success(hub: Resources, mailbox_id: int) -> None:
    async with unit_of_work(hub.sessions, hub.events) as session:
        await session.execute(update(Mailbox).where(Mailbox.id == mailbox_id).values(
            last_poll_at=utcnow(), last_error=None, consecutive_failures=0))


async def record_failure(hub: Resources, mailbox_id: int, exc: BaseException) -> int:
    """Note the error on the mailbox (shown to admins); returns failures in a row."""
    async with unit_of_work(hub.sessions, hub.events) as session:
        result = await session.execute(update(Mailbox).where(Mailbox.id == mailbox_id).values(
            last_error=(str(exc) or repr(exc))[:2000], last_error_at=utcnow(),
            consecutive_failures=Mailbox.consecutive_failures + 1,
        ).returning(Mailbox.consecutive_failures))
        return int(result.scalar_one_or_none() or 0)


async def enabled_mailboxes(hub: Resources) -> list[Mailbox]:
    async with hub.sessions() as session:
        return list((await session.scalars(select(Mailbox).where(
            Mailbox.enabled.is_(True)).order_by(Mailbox.id))).all())


async def on_startup(ctx: dict[str, Any]) -> None:
    hub: Resources = ctx["hub"]
    parser = ctx["mail_parser"] = ParsePool(hub.settings.mail_parse_processes)
    supervisor = PollerSupervisor(hub, functools.partial(sync_once, parser=parser),
                                  enabled_mailboxes, record_failure)
    ctx["mail_pollers"] = supervisor
    supervisor.start()


async def on_shutdown(ctx: dict[str, Any]) -> None:
    if "mail_pollers" in ctx:
        await ctx["mail_pollers"].stop()
    if "mail_parser" in ctx:
        ctx["mail_parser"].close()


async def ensure_pollers(ctx: dict[str, Any]) -> int:
    """Cron sweep: start pollers for mailboxes that have none (new, enabled, crashed) and
    restart those whose settings changed. Returns the number of running pollers."""
    supervisor: PollerSupervisor | None = ctx.get("mail_pollers")
    if supervisor is None:
        return 0
    return await supervisor.reconcile()


FUNCTIONS = [ensure_pollers]
CRON_JOBS = [cron(ensure_pollers, second={0}, run_at_startup=False)]
