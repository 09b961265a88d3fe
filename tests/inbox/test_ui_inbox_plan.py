"""The inbox's first page stays indexed with 100,000 conversations (query plan, not time).

The rows are made by the database itself (``generate_series`` on PostgreSQL, a recursive
CTE on SQLite), so the test takes seconds. For every common filter the plan must read
``conversations`` through an index in the page order: no sequential scan of the table,
no sort of all its rows.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from hub.db.engine import transaction
from hub.inbox.queries import Cursor, InboxFilter, page_query
from hub.resources import Resources
from hub.security.principal import Principal
from tests.factories import make_org, make_staff, make_team
from tests.helpers.explain import plan_lines, plan_nodes
from tests.helpers.inbox import principal_of

N = 100_000
CLIENTS = 2_000

FILTERS = {
    "default (open)": InboxFilter(),
    "all statuses": InboxFilter(status="all"),
    "mine": InboxFilter(scope="mine", status="all"),
    "mine, open": InboxFilter(scope="mine"),
    "team": InboxFilter(scope="team", status="all"),
    "unassigned": InboxFilter(scope="unassigned"),
    "channel": InboxFilter(status="all", channel="whatsapp"),
    "channel, open": InboxFilter(channel="email"),
    "client": InboxFilter(status="all", client_id=1),
    "unread": InboxFilter(unread=True),
    "resolved": InboxFilter(status="resolved"),
}

PG_FILL = """
INSERT INTO clients (organisation_id, client_number, given_name, family_name, team_id,
                     status, notes, created_at)
SELECT :org, 'P' || g, 'Voornaam' || g, 'Achternaam' || g,
       CASE WHEN g % 4 = 0 THEN CAST(:team AS bigint) END, 'active', '', now()
FROM generate_series(1, :clients) g;
INSERT INTO care_relationships (organisation_id, client_id, team_id, created_at)
SELECT :org, id, team_id, now() FROM clients WHERE team_id IS NOT NULL;
INSERT INTO conversations (organisation_id, client_id, channel, subject, status,
    assignee_staff_id, assignee_team_id, thread_token, last_seq, last_message_at,
    preview, version, created_at)
SELECT :org,
       CASE WHEN g % 50 = 0 THEN NULL ELSE (SELECT min(id) FROM clients) + g % :clients END,
       (ARRAY['email','whatsapp','messenger','portal'])[g % 4 + 1], 'Vraag ' || g,
       (ARRAY['resolved','resolved','resolved','resolved','resolved','resolved',
              'resolved','open','pending','snoozed'])[g % 10 + 1],
       CASE WHEN g % 40 = 0 THEN CAST(:staff AS bigint) END,
       CASE WHEN g % 25 = 0 THEN CAST(:team AS bigint) END, md5(g::text), g % 7,
       timestamptz '2025-01-01' + g * interval '1 minute',
       'Goedemiddag', 1, now()
FROM generate_series(1, :n) g;
ANALYZE clients; ANALYZE care_relationships; ANALYZE conversations;
"""

SQLITE_FILL = """
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :clients)
INSERT INTO clients (organisation_id, client_number, given_name, family_name, team_id,
                     status, notes, created_at)
SELECT :org, 'P' || g, 'Voornaam' || g, 'Achternaam' || g,
       CASE WHEN g % 4 = 0 THEN :team END, 'active', '', '2025-01-01 00:00:00' FROM s;
INSERT INTO care_relationships (organisation_id, client_id, team_id, created_at)
SELECT :org, id, team_id, '2025-01-01 00:00:00' FROM clients WHERE team_id IS NOT NULL;
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n)
INSERT INTO conversations (organisation_id, client_id, channel, subject, status,
    assignee_staff_id, assignee_team_id, thread_token, last_seq, last_message_at,
    preview, version, created_at)
SELECT :org,
       CASE WHEN g % 50 = 0 THEN NULL ELSE (SELECT min(id) FROM clients) + g % :clients END,
       CASE g % 4 WHEN 0 THEN 'email' WHEN 1 THEN 'whatsapp' WHEN 2 THEN 'messenger'
            ELSE 'portal' END, 'Vraag ' || g,
       CASE WHEN g % 10 < 7 THEN 'resolved' WHEN g % 10 = 7 THEN 'open'
            WHEN g % 10 = 8 THEN 'pending' ELSE 'snoozed' END,
       CASE WHEN g % 40 = 0 THEN :staff END, CASE WHEN g % 25 = 0 THEN :team END,
       printf('%032x', g), g % 7, datetime('2025-01-01', '+' || g || ' minutes'),
       'Goedemiddag', 1, '2025-01-01 00:00:00'
FROM s;
ANALYZE;
"""


async def _fill(db: AsyncSession, params: dict[str, Any]) -> None:
    script = PG_FILL if db.get_bind().dialect.name == "postgresql" else SQLITE_FILL
    for statement in filter(None, (s.strip() for s in script.split(";"))):
        used = {k: v for k, v in params.items() if f":{k}" in statement}
        await db.execute(text(statement), used)


async def _explain(db: AsyncSession, query: Select[Any]) -> Any:
    if db.get_bind().dialect.name == "postgresql":
        return await plan_nodes(db, query)
    return await plan_lines(db, query)


def _check_pg(name: str, nodes: list[dict[str, Any]]) -> None:
    on_table = [n for n in nodes if n.get("Relation Name") == "conversations"]
    kinds = {n["Node Type"] for n in on_table}
    assert "Seq Scan" not in kinds, f"{name}: sequential scan\n{json.dumps(nodes, indent=1)}"
    assert kinds & {"Index Scan", "Index Only Scan", "Bitmap Heap Scan"}, name
    for node in nodes:
        if node["Node Type"] in ("Sort", "Incremental Sort"):
            # a top-N sort of a handful of already-filtered rows is fine; of the table not
            assert node["Plan Rows"] < N // 20, f"{name}: sorts {node['Plan Rows']} rows"


def _check_sqlite(name: str, lines: list[str]) -> None:
    table_lines = [line for line in lines if " conversations" in line]
    assert table_lines, name
    for line in table_lines:
        assert "USING" in line and "INDEX" in line, f"{name}: {lines}"
    assert not any("TEMP B-TREE FOR ORDER BY" in line for line in lines), f"{name}: {lines}"


async def _crowd(hub: Resources) -> Principal:
    async with transaction(hub.sessions) as db:
        org = await make_org(db)
        team = await make_team(db, org)
        anna = await make_staff(db, org, team=team)
        await _fill(db, {"org": org.id, "team": team.id, "staff": anna.id,
                         "clients": CLIENTS, "n": N})
    return principal_of(anna)


def _check(db: AsyncSession, name: str, plan: Any) -> None:
    if db.get_bind().dialect.name == "postgresql":
        _check_pg(name, plan)
    else:
        _check_sqlite(name, plan)


async def test_inbox_pages_are_read_through_an_index_at_100k(hub: Resources) -> None:
    anna = await _crowd(hub)
    async with hub.sessions() as db:
        assert await db.scalar(text("SELECT count(*) FROM conversations")) == N
        first_client = await db.scalar(text("SELECT min(id) FROM clients"))
        for name, flt in FILTERS.items():
            if flt.client_id is not None:
                flt = InboxFilter(status=flt.status, client_id=first_client + 4)
            _check(db, name, await _explain(db, page_query(anna, flt)))
        await _check_deep_page(db, anna)


async def _check_deep_page(db: AsyncSession, anna: Principal) -> None:
    """Page 100 is planned like page 1 and returns the rows after the cursor."""
    at, ident = (await db.execute(text(
        "SELECT last_message_at, id FROM conversations ORDER BY id LIMIT 1 OFFSET 5000"
    ))).one()
    if isinstance(at, str):  # SQLite hands raw text back to a text() query
        at = dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC)
    cursor = Cursor(at, ident)
    query = page_query(anna, InboxFilter(status="all"), cursor)
    _check(db, "deep page", await _explain(db, query))
    rows = (await db.scalars(query)).all()
    assert len(rows) == 50
    assert all((r.last_message_at, r.id) < (cursor.at, cursor.id) for r in rows)
