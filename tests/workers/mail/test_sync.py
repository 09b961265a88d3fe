"""``sync_once`` against a real Dovecot: ingest, resume, UIDVALIDITY change, dropped and
slow connections, caps, quarantine; every mail exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest
from sqlalchemy import func, select, update

from hub.db.models import (
    Attachment,
    Conversation,
    EmailReceipt,
    Mailbox,
    Message,
    QuarantinedItem,
)
from hub.errors import ChannelError
from hub.inbox.ingest import Fetched
from hub.inbox.normalise import Limits
from hub.resources import Resources
from hub.settings import Settings
from tests.channels import mailgen
from tests.channels.servers import CutProxy
from tests.workers.mail.conftest import MailEnv
from workers.mail import ParsePool, plan_batches, sync_once


async def count(hub: Resources, model: Any) -> int:
    async with hub.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def stored_ids(hub: Resources) -> list[str]:
    async with hub.sessions() as session:
        return list((await session.scalars(select(Message.external_id))).all())


async def mailbox_row(hub: Resources, mailbox_id: int) -> Mailbox:
    async with hub.sessions() as session:
        mailbox = await session.get(Mailbox, mailbox_id)
        assert mailbox is not None
        return mailbox


def corpus(n: int, prefix: str = "m") -> list[bytes]:
    return [mailgen.plain(mailgen.NAMES[i % 10], subject=f"Vraag {i}",
                          message_id=f"{prefix}{i}@familie.test") for i in range(n)]


def test_batches_are_bounded_by_count_and_bytes_and_big_ones_go_alone() -> None:
    pending = [(1, 10), (2, 10), (3, 10), (4, 500), (5, 10), (6, 60), (7, 60)]
    assert plan_batches(pending, max_count=2, max_bytes=100, cap=400) == [
        [(1, 10), (2, 10)], [(3, 10)], [(4, 500)], [(5, 10), (6, 60)], [(7, 60)]]


async def test_ingests_everything_once_and_resumes_after_restart(
        mail_env: MailEnv, settings: Settings) -> None:
    uids = mail_env.append(*corpus(7))
    report = await sync_once(mail_env.hub, mail_env.mailbox_id)
    assert (report.found, report.result.stored, report.rescanned) == (7, 7, False)
    mailbox = await mailbox_row(mail_env.hub, mail_env.mailbox_id)
    assert mailbox.last_uid == uids[-1] and mailbox.uidvalidity == report.uidvalidity
    assert mailbox.last_poll_at is not None and mailbox.consecutive_failures == 0

    again = await sync_once(mail_env.hub, mail_env.mailbox_id)
    assert again.found == 0 and again.result.handled == 0

    # a "restart": fresh resources (new pools), more mail meanwhile
    mail_env.append(*corpus(3, prefix="later"))
    restarted = await Resources.open(settings)
    try:
        resumed = await sync_once(restarted, mail_env.mailbox_id)
    finally:
        await restarted.close()
    assert (resumed.found, resumed.result.stored) == (3, 3)
    ids = await stored_ids(mail_env.hub)
    assert len(ids) == len(set(ids)) == 10
    assert await count(mail_env.hub, EmailReceipt) == 10
    # nothing was marked read on the server
    connection = mail_env.dovecot.imap(mail_env.user)
    connection.select("INBOX")
    assert connection.uid("SEARCH", "SEEN")[1] == [b""]
    connection.logout()


async def test_uidvalidity_change_rescans_without_duplicates(mail_env: MailEnv) -> None:
    imap = mail_env.dovecot.imap(mail_env.user)
    imap.create("Gedeeld")
    imap.logout()
    async with mail_env.hub.sessions() as session, session.begin():
        await session.execute(update(Mailbox).values(folder="Gedeeld"))
    raws = corpus(4)
    mail_env.append(*raws, folder="Gedeeld")
    first = await sync_once(mail_env.hub, mail_env.mailbox_id)
    assert first.result.stored == 4

    # the folder is restored from a backup: new UIDVALIDITY, same mails, plus one new
    imap = mail_env.dovecot.imap(mail_env.user)
    imap.delete("Gedeeld")
    imap.create("Gedeeld")
    imap.logout()
    mail_env.append(*raws, mailgen.plain(subject="Nieuw", message_id="new@familie.test"),
                    folder="Gedeeld")
    second = await sync_once(mail_env.hub, mail_env.mailbox_id)
    assert second.rescanned and second.uidvalidity != first.uidvalidity
    assert (second.result.stored, second.result.duplicates) == (1, 4)
    assert await count(mail_env.hub, Message) == 5
    # receipts for both generations of UIDs, each pointing at a stored message
    async with mail_env.hub.sessions() as session:
        receipts = (await session.scalars(select(EmailReceipt))).all()
    assert len(receipts) == 9 and all(r.message_id for r in receipts)
    mailbox = await mailbox_row(mail_env.hub, mail_env.mailbox_id)
    assert mailbox.uidvalidity == second.uidvalidity and mailbox.last_uid == 5


async def test_connection_killed_mid_batch_loses_and_doubles_nothing(
        mail_env: MailEnv) -> None:
    mail_env.hub.settings = mail_env.hub.settings.with_changes(mail_fetch_batch=4)
    raws = [mailgen.with_attachment(mailgen.NAMES[i % 10], f"Bijlage {i}", 3_000 + 500 * i,
                                    message_id=f"cut{i}@familie.test") for i in range(30)]
    mail_env.append(*raws)
    proxy = CutProxy(mail_env.dovecot.port)
    await proxy.start()
    async with mail_env.hub.sessions() as session, session.begin():
        await session.execute(update(Mailbox).values(imap_port=proxy.port))
    progress = []
    try:
        # cut each fresh connection at a point inside what is still to come (the first in
        # the listing, the others inside the bodies), then let it finish undisturbed
        for failures, share in enumerate((0.0, 0.3, 0.6, 0.9), 1):
            done = set(await stored_ids(mail_env.hub))
            remaining = sum(len(r) for i, r in enumerate(raws)
                            if f"cut{i}@familie.test" not in done)
            proxy.cut_after = 1_500 if share == 0 else 3_000 + int(remaining * share)
            with pytest.raises(ChannelError):
                await sync_once(mail_env.hub, mail_env.mailbox_id)
            progress.append(len(await stored_ids(mail_env.hub)))
            mailbox = await mailbox_row(mail_env.hub, mail_env.mailbox_id)
            assert mailbox.consecutive_failures == failures and mailbox.enabled
            assert "IMAP" in (mailbox.last_error or "")
        await sync_once(mail_env.hub, mail_env.mailbox_id)
    finally:
        await proxy.stop()
    # the cuts fell between and inside batches: some were committed before each cut
    assert progress[0] == 0 and 0 < progress[-1] < 30 and progress == sorted(progress)
    assert proxy.cuts == 4
    ids = await stored_ids(mail_env.hub)
    assert sorted(ids) == sorted(f"cut{i}@familie.test" for i in range(30))
    assert await count(mail_env.hub, EmailReceipt) == 30
    assert await count(mail_env.hub, Attachment) == 30
    mailbox = await mailbox_row(mail_env.hub, mail_env.mailbox_id)
    assert mailbox.consecutive_failures == 0 and mailbox.last_error is None


async def test_a_slow_server_is_waited_for(mail_env: MailEnv) -> None:
    mail_env.append(*corpus(5))
    proxy = CutProxy(mail_env.dovecot.port)
    proxy.delay = 0.05
    await proxy.start()
    async with mail_env.hub.sessions() as session, session.begin():
        await session.execute(update(Mailbox).values(imap_port=proxy.port))
    try:
        report = await asyncio.wait_for(sync_once(mail_env.hub, mail_env.mailbox_id), 30)
    finally:
        await proxy.stop()
    assert report.result.stored == 5


async def test_mark_seen_and_delete_only_when_configured_and_after_commit(
        mail_env: MailEnv) -> None:
    mail_env.hub.settings = mail_env.hub.settings.with_changes(mail_fetch_batch=2)
    mail_env.append(*corpus(5))
    async with mail_env.hub.sessions() as session, session.begin():
        await session.execute(update(Mailbox).values(mark_seen=True, delete_after_import=True))
    report = await sync_once(mail_env.hub, mail_env.mailbox_id)
    assert report.result.stored == 5 and await count(mail_env.hub, EmailReceipt) == 5
    connection = mail_env.dovecot.imap(mail_env.user)
    status, data = connection.select("INBOX")
    connection.logout()
    assert status == "OK" and data == [b"0"]


async def test_over_the_cap_is_kept_in_part_and_says_so(mail_env: MailEnv) -> None:
    mail_env.hub.settings = mail_env.hub.settings.with_changes(max_message_bytes=100_000)
    mail_env.append(mailgen.with_attachment("Jan Visser", "Scan", 400_000,
                                            message_id="big@familie.test"),
                    mailgen.plain(subject="Klein", message_id="small@familie.test"))
    report = await sync_once(mail_env.hub, mail_env.mailbox_id)
    assert report.result.stored == 2
    async with mail_env.hub.sessions() as session:
        big = await session.scalar(select(Message).where(
            Message.external_id == "big@familie.test"))
        assert big is not None and big.subject == "Scan"
        assert big.skipped_attachments == [
            {"filename": "zorgplan.pdf", "size": big.skipped_attachments[0]["size"],
             "reason": "message_too_large"}]
        assert big.meta["size"] > 400_000
        assert await session.scalar(select(func.count()).select_from(Attachment)) == 0


async def test_unparseable_mail_is_quarantined_and_the_rest_goes_on(mail_env: MailEnv) -> None:
    garbage = b"\x01\x02 this is not mail at all \xff\xfe" * 10  # (Dovecot turns NUL into 0x80)
    uids = mail_env.append(mailgen.plain(message_id="a@familie.test"), garbage,
                           mailgen.plain(message_id="b@familie.test"))
    report = await sync_once(mail_env.hub, mail_env.mailbox_id)
    assert (report.result.stored, report.result.quarantined) == (2, 1)
    async with mail_env.hub.sessions() as session:
        item = await session.scalar(select(QuarantinedItem))
        receipt = await session.scalar(select(EmailReceipt).where(EmailReceipt.uid == uids[1]))
    assert item is not None and item.raw.replace(b"\r\n", b"\n") == garbage
    assert item.mailbox_id == mail_env.mailbox_id
    assert item.external_ref == f"{report.uidvalidity}/{uids[1]}" and "headers" in item.reason
    assert receipt is not None and receipt.message_id is None
    assert (await mailbox_row(mail_env.hub, mail_env.mailbox_id)).last_uid == uids[2]
    assert await count(mail_env.hub, Conversation) == 2


async def test_parsing_in_a_process_pool_gives_the_same_inbox(mail_env: MailEnv) -> None:
    mail_env.append(*corpus(6), mailgen.html_alternative("Noor Smit", "Html",
                                                         message_id="html@familie.test"))
    parser = ParsePool(1)
    try:
        report = await sync_once(mail_env.hub, mail_env.mailbox_id, parser=parser)
    finally:
        parser.close()
    assert report.result.stored == 7
    async with mail_env.hub.sessions() as session:
        html = await session.scalar(select(Message).where(
            Message.external_id == "html@familie.test"))
    assert html is not None and html.body_html.startswith("<div") and "tracker" in html.body_html
    assert ' src="https://tracker' not in html.body_html


async def test_a_broken_parse_pool_falls_back_and_recovers() -> None:
    limits = Limits(max_attachment_bytes=10**6, max_message_bytes=10**7)
    items = [Fetched(1, mailgen.plain(message_id="p1@familie.test"))]
    parser = ParsePool(1)
    try:
        [first] = await parser.parse(items, limits)
        assert first.inbound is not None
        executor = parser._executor
        assert executor is not None
        for process in list(executor._processes.values()):  # a crashed parse process
            os.kill(process.pid, signal.SIGKILL)
        await asyncio.sleep(0.2)
        [second] = await parser.parse(items, limits)  # inline, with a warning
        assert second.inbound is not None
        assert second.inbound.external_id == "p1@familie.test"
        [third] = await parser.parse(items, limits)  # a fresh pool
        assert third.inbound is not None and parser._executor is not executor
    finally:
        parser.close()
