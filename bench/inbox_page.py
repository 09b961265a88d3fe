"""The inbox's first page with 100,000 conversations in PostgreSQL, next to a bare query.

    python bench/inbox_page.py            # 100,000 conversations, 200 timed pages
    python bench/inbox_page.py --quick    # 100,000 conversations, 50 timed pages

"Ours" is what ``/app/`` asks the database for a care worker in a team (without the
template): ``hub.inbox.queries.inbox_page`` (visibility by care relationship, status
open, newest activity first, names and unread counts of the 50 rows) plus
``unread_counts`` for the tabs. The baseline is asyncpg's bare ``SELECT * FROM
conversations WHERE organisation_id = $1 ORDER BY last_message_at DESC, id DESC LIMIT
50``: the same table, no rules, no names. Both run warm (10 untimed rounds first).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench.scratch import scratch_database
from hub.db.migrate import upgrade
from hub.inbox.queries import InboxFilter, inbox_page, unread_counts
from hub.resources import Resources
from hub.security.principal import Principal
from hub.settings import Settings
from tests.factories import make_org, make_staff, make_team
from tests.inbox.test_ui_inbox_plan import CLIENTS, N, _fill

BARE = ("SELECT * FROM conversations WHERE organisation_id = $1 "
        "ORDER BY last_message_at DESC, id DESC LIMIT 50")


async def crowd(hub: Resources) -> Principal:
    async with hub.sessions() as db, db.begin():
        org = await make_org(db, slug="bench-inbox")
        team = await make_team(db, org)
        anna = await make_staff(db, org, team=team, name="Anna de Boer")
        await _fill(db, {"org": org.id, "team": team.id, "staff": anna.id,
                         "clients": CLIENTS, "n": N})
    return Principal("staff", org.id, anna.id, anna.name, "staff")


async def ours(hub: Resources, who: Principal) -> None:
    async with hub.sessions() as db:
        page = await inbox_page(db, who, InboxFilter())
        await unread_counts(db, who)
    assert len(page.rows) == 50


async def baseline(connection: asyncpg.Connection, org: int) -> None:
    rows = await connection.fetch(BARE, org)
    assert len(rows) == 50


async def timed(work: object, rounds: int) -> float:
    """Median milliseconds of ``rounds`` calls, after 10 untimed ones."""
    times = []
    for index in range(rounds + 10):
        started = time.perf_counter()
        await work()  # type: ignore[operator]
        if index >= 10:
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def main(rounds: int) -> None:
    async with scratch_database("zorghub_bench_inbox") as (url, dsn):
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(data_dir=Path(folder), database_url=url)
            await asyncio.to_thread(upgrade, settings)
            hub = await Resources.open(settings)
            bare = await asyncpg.connect(dsn)  # one connection, like the pool
            try:
                who = await crowd(hub)
                ours_ms = await timed(lambda: ours(hub, who), rounds)
                bare_ms = await timed(lambda: baseline(bare, who.organisation_id), rounds)
            finally:
                await bare.close()
                await hub.close()
    print(f"conversations={N} rounds={rounds} (first page, status open, care worker in a team)")
    print(f"inbox_page: ours={ours_ms:.2f} baseline={bare_ms:.2f} "
          f"ratio={ours_ms / bare_ms:.2f} unit=ms_p50")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50 timed pages instead of 200")
    arguments = parser.parse_args()
    asyncio.run(main(50 if arguments.quick else 200))
