"""Email ingest throughput: Dovecot -> inbox (parsed, sanitised, threaded, matched, stored
in PostgreSQL), next to a bare aioimaplib fetch of the same mailbox in the same run.

    python bench/email_ingest.py            # 5,000 mixed messages
    python bench/email_ingest.py --quick    # 1,000, within 45 seconds

The mailbox holds a deterministic mix (``tests.channels.mailgen.mixed_corpus``): plain
text, HTML with a plain alternative (Outlook-style markup, a tracking pixel), replies
threading onto earlier mails, and PDFs of 2-60 KB; a third of the senders are known
client contacts. The baseline logs in, lists the UIDs and fetches every message with
``BODY.PEEK[]`` in batches of the same size the poller uses, keeping the bytes; "ours" is
``workers.mail.sync_once`` on a fresh mailbox row: the same fetch plus everything the
inbox does with each message. Both run once untimed first (warm page cache), then timed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aioimaplib
from sqlalchemy import func, select

from bench.scratch import PG_ADMIN, pg_admin
from hub.channels.email_responses import uid_set
from hub.db.migrate import upgrade
from hub.db.models import Message
from hub.resources import Resources
from hub.settings import Settings
from tests.channels import mailgen
from tests.channels.servers import PASSWORD, Dovecot
from tests.factories import make_client, make_contact, make_mailbox, make_org
from workers.mail import ParsePool, sync_once


async def bare_fetch(port: int, user: str, batch: int) -> tuple[int, int]:
    """Messages and bytes fetched by plain aioimaplib, as fast as it goes."""
    imap = aioimaplib.IMAP4("127.0.0.1", port, timeout=60)
    await imap.wait_hello_from_server()
    await imap.login(user, PASSWORD)
    await imap.select("INBOX")
    found = await imap.uid_search("ALL", charset=None)
    uids = [int(u) for u in found.lines[0].split()]
    count = size = 0
    for start in range(0, len(uids), batch):
        response = await imap.uid("fetch", uid_set(uids[start:start + batch]), "(UID BODY.PEEK[])")
        literals = [line for line in response.lines if isinstance(line, bytearray)]
        count += len(literals)
        size += sum(len(literal) for literal in literals)
    await imap.logout()
    return count, size


async def prepare(hub: Resources, dovecot: Dovecot, user: str) -> tuple[int, int]:
    """An organisation whose contacts know a third of the senders, and a fresh mailbox
    row for ``user``; (organisation id, mailbox id)."""
    async with hub.sessions() as session, session.begin():
        org = await make_org(session, slug=f"bench{time.monotonic_ns()}")
        for name in mailgen.NAMES[::3]:
            client = await make_client(session, org)
            await make_contact(session, client, email=mailgen.address_of(name))
        mailbox = await make_mailbox(session, org, imap_port=dovecot.port, imap_user=user)
    return org.id, mailbox.id


async def ours(hub: Resources, dovecot: Dovecot, user: str,
               parser: ParsePool) -> tuple[int, int]:
    """``sync_once`` on a fresh mailbox row, parsing as the worker does (a process pool
    of ``HUB_MAIL_PARSE_PROCESSES``); (messages taken in, messages stored)."""
    org_id, mailbox_id = await prepare(hub, dovecot, user)
    report = await sync_once(hub, mailbox_id, parser=parser)
    async with hub.sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(Message).where(
            Message.organisation_id == org_id))
    return report.result.handled, int(stored or 0)


def load_mailbox(dovecot: Dovecot, user: str, count: int, seed: int) -> None:
    dovecot.append(user, [mailgen.plain(subject="eerste")])  # creates the Maildir
    dovecot.drop_into_maildir(user, mailgen.mixed_corpus(count - 1, seed=seed))


async def run(count: int, folder: Path) -> tuple[float, float]:
    dovecot = Dovecot(folder / "dovecot")
    database = f"zorghub_bench_{os.getpid()}"
    await pg_admin(f"CREATE DATABASE {database}")
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    settings = Settings(data_dir=folder / "data", database_url=f"{url}/{database}",
                        secret_key="bench")
    hub = None
    parser = ParsePool(settings.mail_parse_processes)
    try:
        await asyncio.to_thread(upgrade, settings)
        dovecot.start()
        load_mailbox(dovecot, "warmup", 200, seed=1)
        load_mailbox(dovecot, "zorgteam", count, seed=7)
        hub = await Resources.open(settings)
        batch = settings.mail_fetch_batch
        # warm-up, untimed: page cache, parser tables, statement caches
        await bare_fetch(dovecot.port, "zorgteam", batch)
        await ours(hub, dovecot, "warmup", parser)
        started = time.perf_counter()
        fetched, size = await bare_fetch(dovecot.port, "zorgteam", batch)
        baseline = fetched / (time.perf_counter() - started)
        started = time.perf_counter()
        taken, stored = await ours(hub, dovecot, "zorgteam", parser)
        mine = taken / (time.perf_counter() - started)
        print(f"mailbox: {fetched} messages, {size / 1e6:.1f} MB; inbox: {taken} taken in, "
              f"{stored} stored")
        if not fetched == taken == stored == count:
            raise SystemExit(f"expected {count} messages everywhere")
        return mine, baseline
    finally:
        parser.close()
        if hub is not None:
            await hub.close()
        dovecot.stop()
        await pg_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="1,000 messages, under 45 s")
    parser.add_argument("--count", type=int, help="number of messages (default 5,000)")
    args = parser.parse_args()
    count = args.count or (1_000 if args.quick else 5_000)
    folder = Path(tempfile.mkdtemp(prefix="zorghub-bench-"))
    folder.chmod(0o755)  # Dovecot's mail processes run as the dovecot user
    mine, baseline = asyncio.run(run(count, folder))
    print(f"email_ingest: ours={mine:.0f} baseline={baseline:.0f} "
          f"ratio={mine / baseline:.3f} unit=msg_per_s")


if __name__ == "__main__":
    main()
