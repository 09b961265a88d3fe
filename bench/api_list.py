"""``GET /api/v1/clients?limit=200`` in-process (httpx), next to a bare query of the page.

    python bench/api_list.py            # 200 clients, 100 timed pages
    python bench/api_list.py --quick    # 200 clients, 30 timed pages

"Ours" is the whole request through the app and its guards, in-process with httpx's
ASGI transport: token lookup, the page of 200 clients with their contacts and teams,
one NEN 7513 audit line per client (``hub.security.audit.record_many``: one chain lock,
one read of the last hash, one INSERT) and the JSON. The baseline is asyncpg's bare
``SELECT * FROM clients WHERE organisation_id = $1 ORDER BY id LIMIT 201``: the same rows,
no contacts, no audit, no HTTP. Both run warm (5 untimed rounds first), on PostgreSQL.

A line before the result times the audit alone, in the same run: 200 lines written by
200 ``record`` calls (what the page cost before ``record_many``) against one
``record_many``, each in its own transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import httpx

from bench.scratch import scratch_database
from hub.app import create_app
from hub.db.engine import transaction
from hub.db.migrate import upgrade
from hub.records.clients import add_client
from hub.records.validation import parse_client
from hub.resources import Resources
from hub.security.audit import Event, Line, record, record_many
from hub.security.principal import Principal
from hub.security.tokens import create_token
from hub.settings import Settings
from tests.factories import make_org
from tests.helpers.asgi import transport_for

CLIENTS = 200
BARE = "SELECT * FROM clients WHERE organisation_id = $1 ORDER BY id LIMIT 201"


async def seed(hub: Resources) -> tuple[int, str]:
    """An organisation with ``CLIENTS`` clients (each with one contact) and a token."""
    async with hub.sessions() as db, db.begin():
        org = await make_org(db, slug="bench-api")
        for n in range(CLIENTS):
            data = parse_client({
                "client_number": f"B{n:04d}", "given_name": "Johanna",
                "family_name": f"Jong {n}", "date_of_birth": "1941-03-07",
                "team": "Wijkteam Centrum", "contacts": [{"phone": f"06-1234{n:04d}"}]})
            await add_client(db, org.id, data, None)
        return org.id, await create_token(db, org.id, "bench")


async def timed(work: Callable[[], Awaitable[None]], rounds: int) -> float:
    """Median milliseconds of ``rounds`` calls, after 5 untimed ones."""
    times = []
    for index in range(rounds + 5):
        started = time.perf_counter()
        await work()
        if index >= 5:
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def audit_cost(hub: Resources, org: int, rounds: int) -> tuple[float, float]:
    """Median ms of 200 lines by ``record`` one by one, and by one ``record_many``."""
    who = Principal("api", org, None, "bench", "api")
    lines = [Line(Event.READ, client_id=n, object_ref=f"client:{n}", detail="api: lijst")
             for n in range(CLIENTS)]

    async def one_by_one() -> None:
        async with transaction(hub.sessions) as db:
            for line in lines:
                await record(db, who, line.event, client_id=line.client_id,
                             object_ref=line.object_ref, detail=line.detail)

    async def at_once() -> None:
        async with transaction(hub.sessions) as db:
            await record_many(db, who, lines)

    return await timed(one_by_one, rounds), await timed(at_once, rounds)


async def measure(hub: Resources, bare: asyncpg.Connection, rounds: int) -> tuple[float, float]:
    org, token = await seed(hub)
    single, many = await audit_cost(hub, org, max(5, rounds // 3))
    print(f"audit of {CLIENTS} lines: record x{CLIENTS}={single:.2f} ms, "
          f"record_many={many:.2f} ms (median)")
    transport = transport_for(create_app(hub.settings), hub)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def ours() -> None:
            response = await client.get("/api/v1/clients?limit=200", headers=headers)
            assert response.status_code == 200 and len(response.json()["clients"]) == CLIENTS

        async def baseline() -> None:
            assert len(await bare.fetch(BARE, org)) == CLIENTS

        return await timed(ours, rounds), await timed(baseline, rounds)


async def main(rounds: int) -> None:
    async with scratch_database("zorghub_bench_api") as (url, dsn):
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(data_dir=Path(folder), database_url=url,
                                secret_key="bench-secret-key-not-for-production")
            await asyncio.to_thread(upgrade, settings)
            hub = await Resources.open(settings)
            bare = await asyncpg.connect(dsn)
            try:
                ours_ms, bare_ms = await measure(hub, bare, rounds)
            finally:
                await bare.close()
                await hub.close()
    print(f"clients={CLIENTS} rounds={rounds} (GET /api/v1/clients?limit=200, in-process)")
    print(f"api_list: ours={ours_ms:.2f} baseline={bare_ms:.2f} "
          f"ratio={ours_ms / bare_ms:.2f} unit=ms_p50")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="30 timed pages instead of 100")
    arguments = parser.parse_args()
    asyncio.run(main(30 if arguments.quick else 100))
