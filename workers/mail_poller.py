"""Long-lived mail pollers inside the worker process: one task per enabled mailbox.

A poller holds a Redis lock for its mailbox (renewed while it runs), so two workers never
poll the same mailbox at once; the other worker's poller waits and takes over when the
lock lapses. Correctness does not depend on the lock: receipts and Message-IDs keep a
double poll free of duplicates; the lock only saves the work.

While holding the lock: connect, ``sync_once``, then IDLE (renewed well before the 29
minutes after which servers drop it) or, without IDLE, wait ``mail_poll_seconds``; repeat.
Any failure is recorded on the mailbox (admins see it) and retried after a backoff that
doubles up to five minutes; a mailbox is never switched off by the poller.

The supervisor reconciles running pollers with the database every half minute (and
when the cron sweep ``ensure_pollers`` asks): new or re-enabled mailboxes get a poller,
disabled or deleted ones lose theirs, and a changed configuration restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from hub.channels.email import ImapMailbox
from hub.db.models import Mailbox
from hub.inbox.mailboxes import config_fingerprint, imap_config
from hub.resources import Resources

log = logging.getLogger(__name__)
LOCK_TTL = 60.0
LOCK_RETRY = 20.0
MAX_BACKOFF = 300.0

SyncStep = Callable[..., Awaitable[Any]]
RecordFailure = Callable[[Resources, int, BaseException], Awaitable[int]]
ListMailboxes = Callable[[Resources], Awaitable[Sequence[Mailbox]]]


class LockLost(Exception):
    pass


def backoff(failures: int, base: float) -> float:
    """Seconds to wait after ``failures`` failures in a row (jittered, capped)."""
    delay = min(base * 2 ** max(failures - 1, 0), MAX_BACKOFF)
    return delay * random.uniform(0.8, 1.2)


class MailboxPoller:
    def __init__(self, hub: Resources, mailbox: Mailbox, sync: SyncStep,
                 record_failure: RecordFailure) -> None:
        self.hub = hub
        self.mailbox_id = mailbox.id
        self.fingerprint = config_fingerprint(mailbox)
        self.config = imap_config(mailbox, hub.settings)
        self.sync = sync
        self.record_failure = record_failure
        self.failures = 0
        self.syncs = 0
        self.task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"mail-poller-{self.mailbox_id}")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    async def _run(self) -> None:
        lock = Lock(self.hub.redis, f"hub:mail-poller:{self.mailbox_id}", timeout=LOCK_TTL)
        while True:
            if not await lock.acquire(blocking=False):
                await asyncio.sleep(LOCK_RETRY)
                continue
            try:
                error = await self._hold(lock)
            finally:
                with contextlib.suppress(Exception):
                    await lock.release()
            if error is not None:
                await self._failed(error)

    async def _hold(self, lock: Lock) -> BaseException | None:
        """Serve while the lock is ours; the error that ended it, if any."""
        serve = asyncio.create_task(self._serve())
        keep = asyncio.create_task(self._keep(lock))
        try:
            await asyncio.wait({serve, keep}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (serve, keep):
                task.cancel()
            await asyncio.gather(serve, keep, return_exceptions=True)
        for task in (serve, keep):
            if task.done() and not task.cancelled():
                error = task.exception()
                # losing the lock is not the mailbox's fault: just wait for it again
                if error is not None and not isinstance(error, LockLost):
                    return error
        return None

    async def _serve(self) -> None:
        async with ImapMailbox(self.config) as connection:
            state = await connection.open()
            while True:
                await self.sync(self.hub, self.mailbox_id, connection=connection, state=state)
                self.failures = 0
                self.syncs += 1
                settings = self.hub.settings
                wait = settings.mail_idle_seconds if connection.supports_idle \
                    else settings.mail_poll_seconds
                await connection.wait_for_change(wait)

    async def _keep(self, lock: Lock) -> None:
        while True:
            await asyncio.sleep(LOCK_TTL / 3)
            try:
                renewed = await lock.reacquire()
            except LockError as exc:  # expired meanwhile and perhaps taken by another
                raise LockLost(f"mailbox {self.mailbox_id}: lock lost") from exc
            if not renewed:
                raise LockLost(f"mailbox {self.mailbox_id}: lock lost")

    async def _failed(self, error: BaseException) -> None:
        self.failures += 1
        log.warning("mailbox %s: poll failed (%s in a row): %s", self.mailbox_id,
                    self.failures, error)
        with contextlib.suppress(Exception):  # the database may be what failed
            await self.record_failure(self.hub, self.mailbox_id, error)
        await asyncio.sleep(backoff(self.failures, self.hub.settings.mail_backoff_seconds))


class PollerSupervisor:
    def __init__(self, hub: Resources, sync: SyncStep, mailboxes: ListMailboxes,
                 record_failure: RecordFailure, interval: float = 30.0) -> None:
        self.hub = hub
        self.sync = sync
        self.mailboxes = mailboxes
        self.record_failure = record_failure
        self.interval = interval
        self.pollers: dict[int, MailboxPoller] = {}
        self._guard = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mail-poller-supervisor")

    async def _loop(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:  # boundary: try again next round
                log.exception("mail poller supervisor: reconcile failed")
            await asyncio.sleep(self.interval)

    async def reconcile(self) -> int:
        """Make the running pollers match the enabled mailboxes; returns how many run."""
        async with self._guard:
            wanted = {m.id: m for m in await self.mailboxes(self.hub)}
            for mailbox_id, poller in list(self.pollers.items()):
                mailbox = wanted.get(mailbox_id)
                if mailbox is None or not poller.running \
                        or config_fingerprint(mailbox) != poller.fingerprint:
                    await poller.stop()
                    del self.pollers[mailbox_id]
            for mailbox_id, mailbox in wanted.items():
                if mailbox_id not in self.pollers:
                    poller = MailboxPoller(self.hub, mailbox, self.sync, self.record_failure)
                    poller.start()
                    self.pollers[mailbox_id] = poller
            return len(self.pollers)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for poller in list(self.pollers.values()):
            await poller.stop()
        self.pollers.clear()
