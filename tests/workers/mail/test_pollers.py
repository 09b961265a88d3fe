"""The long-running pollers: IDLE against Dovecot, one poller per mailbox across workers,
reconciling with the database, backoff with the health kept on the mailbox."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest
from sqlalchemy import func, select, update

from hub.channels.email import ImapMailbox
from hub.db.models import Mailbox, Message, Organisation
from hub.resources import Resources
from tests.channels import mailgen
from tests.channels.servers import free_port
from tests.factories import make_mailbox
from tests.helpers.waiting import eventually
from tests.workers.mail.conftest import MailEnv
from workers import mail_poller
from workers.mail import enabled_mailboxes, record_failure, sync_once
from workers.mail_poller import MailboxPoller, PollerSupervisor, backoff


async def message_count(hub: Resources) -> int:
    async with hub.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Message)) or 0)


def supervisor(hub: Resources) -> PollerSupervisor:
    return PollerSupervisor(hub, sync_once, enabled_mailboxes, record_failure, interval=3600)


async def load(hub: Resources, mailbox_id: int) -> Mailbox:
    async with hub.sessions() as session:
        mailbox = await session.get(Mailbox, mailbox_id)
        assert mailbox is not None
        return mailbox


def test_backoff_doubles_and_is_capped() -> None:
    assert 4 <= backoff(1, 5) <= 6
    assert 16 <= backoff(3, 5) <= 24
    assert backoff(50, 5) <= 360


async def test_idle_poller_takes_in_new_mail_within_seconds(mail_env: MailEnv) -> None:
    mail_env.append(mailgen.plain(message_id="before@familie.test"))
    poller = MailboxPoller(mail_env.hub, await load(mail_env.hub, mail_env.mailbox_id),
                           sync_once, record_failure)
    poller.start()
    try:
        await eventually(lambda: _equals(message_count(mail_env.hub), 1))
        await eventually(lambda: _true(poller.syncs >= 1))
        started = asyncio.get_running_loop().time()
        await asyncio.sleep(0.5)  # the poller is in IDLE now
        await asyncio.to_thread(mail_env.append, mailgen.plain(message_id="idle@familie.test"))
        await eventually(lambda: _equals(message_count(mail_env.hub), 2), 5)
        assert asyncio.get_running_loop().time() - started < 5
        assert poller.running and poller.failures == 0
    finally:
        await poller.stop()


async def test_two_workers_poll_a_mailbox_once(mail_env: MailEnv) -> None:
    first, second = supervisor(mail_env.hub), supervisor(mail_env.hub)
    assert await first.reconcile() == 1
    assert await second.reconcile() == 1
    try:
        mail_env.append(*[mailgen.plain(message_id=f"two{i}@familie.test") for i in range(5)])
        await eventually(lambda: _equals(message_count(mail_env.hub), 5))
        await asyncio.sleep(0.5)
        syncs = [p.syncs for s in (first, second) for p in s.pollers.values()]
        # one holds the lock and polls; the other waits for the lock
        assert sorted(syncs)[0] == 0 and sorted(syncs)[1] >= 1
    finally:
        await first.stop()
        await second.stop()
    assert await message_count(mail_env.hub) == 5


async def test_supervisor_follows_the_database(mail_env: MailEnv) -> None:
    boss = supervisor(mail_env.hub)
    try:
        async with mail_env.hub.sessions() as session, session.begin():
            org = await session.get(Organisation, mail_env.organisation_id)
            assert org is not None
            other = await make_mailbox(session, org, imap_port=mail_env.dovecot.port,
                                       enabled=False)
        assert await boss.reconcile() == 1
        original = boss.pollers[mail_env.mailbox_id]
        async with mail_env.hub.sessions() as session, session.begin():
            await session.execute(update(Mailbox).where(Mailbox.id == other.id)
                                  .values(enabled=True))
            await session.execute(update(Mailbox).where(Mailbox.id == mail_env.mailbox_id)
                                  .values(folder="Archief"))
        assert await boss.reconcile() == 2
        assert boss.pollers[mail_env.mailbox_id] is not original and not original.running
        async with mail_env.hub.sessions() as session, session.begin():
            await session.execute(update(Mailbox).values(enabled=False))
        assert await boss.reconcile() == 0
    finally:
        await boss.stop()


async def test_failures_back_off_and_never_switch_the_mailbox_off(mail_env: MailEnv) -> None:
    mail_env.hub.settings = mail_env.hub.settings.with_changes(mail_backoff_seconds=0.05)
    async with mail_env.hub.sessions() as session, session.begin():
        await session.execute(update(Mailbox).values(imap_port=free_port()))  # nobody there
    poller = MailboxPoller(mail_env.hub, await load(mail_env.hub, mail_env.mailbox_id),
                           sync_once, record_failure)
    poller.start()
    try:
        async def failed_thrice() -> bool:
            return (await load(mail_env.hub, mail_env.mailbox_id)).consecutive_failures >= 3
        await eventually(failed_thrice)
    finally:
        await poller.stop()
    mailbox = await load(mail_env.hub, mail_env.mailbox_id)
    assert mailbox.enabled and mailbox.last_error and mailbox.last_error_at
    assert mailbox.last_poll_at is None

    # the server is back: the next successful poll clears the error
    async with mail_env.hub.sessions() as session, session.begin():
        await session.execute(update(Mailbox).values(imap_port=mail_env.dovecot.port))
    await sync_once(mail_env.hub, mail_env.mailbox_id)
    mailbox = await load(mail_env.hub, mail_env.mailbox_id)
    assert mailbox.consecutive_failures == 0 and mailbox.last_error is None


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _true(value: bool) -> bool:
    return value


async def test_without_idle_the_poller_polls(mail_env: MailEnv,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # as with a server that does not offer IDLE: the capability is simply not there
    monkeypatch.setattr(ImapMailbox, "supports_idle", property(lambda self: False))
    mail_env.hub.settings = mail_env.hub.settings.with_changes(mail_poll_seconds=0.2)
    poller = MailboxPoller(mail_env.hub, await load(mail_env.hub, mail_env.mailbox_id),
                           sync_once, record_failure)
    poller.start()
    try:
        await eventually(lambda: _true(poller.syncs >= 3), 5)
        await asyncio.to_thread(mail_env.append, mailgen.plain(message_id="poll@familie.test"))
        await eventually(lambda: _equals(message_count(mail_env.hub), 1), 5)
    finally:
        await poller.stop()


async def test_a_lost_lock_is_taken_again_without_counting_as_a_failure(
        mail_env: MailEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mail_poller, "LOCK_TTL", 0.6)
    monkeypatch.setattr(mail_poller, "LOCK_RETRY", 0.1)
    poller = MailboxPoller(mail_env.hub, await load(mail_env.hub, mail_env.mailbox_id),
                           sync_once, record_failure)
    poller.start()
    try:
        await eventually(lambda: _true(poller.syncs >= 1))
        key = f"hub:mail-poller:{mail_env.mailbox_id}"
        await mail_env.hub.redis.delete(key)  # as if it expired during a long pause
        await mail_env.hub.redis.set(key, b"another-worker", px=300)
        first = poller.syncs
        await eventually(lambda: _true(poller.syncs > first), 10)  # polling again
        assert poller.failures == 0
    finally:
        await poller.stop()
    assert (await load(mail_env.hub, mail_env.mailbox_id)).consecutive_failures == 0
