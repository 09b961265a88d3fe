from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from sqlalchemy import event, select, text, update

from hub.db.engine import transaction
from hub.db.models import AuditRecord, Organisation
from hub.resources import Resources
from hub.security import audit
from hub.security.principal import Principal


def _who(org: Organisation, n: int = 1) -> Principal:
    return Principal("staff", org.id, n, f"Sanne de Vries {n}", "staff",
                     ip="192.0.2.10", user_agent="pytest")


async def _write(hub: Resources, org: Organisation, n: int) -> None:
    async with transaction(hub.sessions) as db:
        await audit.record(db, _who(org, n), audit.Event.READ, client_id=7,
                           object_ref=f"conversation:{n}")


async def test_concurrent_writers_keep_one_unbroken_chain(
    hub: Resources, org: Organisation,
) -> None:
    await asyncio.gather(*(_write(hub, org, n) for n in range(20)))
    async with hub.sessions() as db:
        rows = list(await db.scalars(select(AuditRecord).order_by(AuditRecord.id)))
        assert len(rows) == 20
        assert len({r.prev_hash for r in rows}) == 20  # no two lines claim one parent
        assert await audit.verify_chain(db, org.id) is None


@pytest.mark.parametrize("column", ["detail", "user_name", "outcome", "client_id"])
async def test_an_altered_record_breaks_the_chain(
    hub: Resources, org: Organisation, column: str,
) -> None:
    for n in range(5):
        await _write(hub, org, n)
    async with hub.sessions() as db:
        third = (await db.scalars(select(AuditRecord.id).order_by(AuditRecord.id)))
        target = list(third)[2]
    value = 999 if column == "client_id" else "gewijzigd"
    async with hub.engine.begin() as connection:  # behind the application's back
        await connection.execute(text(f"UPDATE audit_log SET {column} = :v WHERE id = :id"),
                                 {"v": value, "id": target})
    async with hub.sessions() as db:
        assert await audit.verify_chain(db, org.id) == target


async def test_a_deleted_record_breaks_the_chain(hub: Resources, org: Organisation) -> None:
    for n in range(4):
        await _write(hub, org, n)
    async with hub.engine.begin() as connection:
        second = (await connection.execute(
            text("SELECT id FROM audit_log ORDER BY id LIMIT 1 OFFSET 1"))).scalar_one()
        await connection.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": second})
    async with hub.sessions() as db:
        broken = await audit.verify_chain(db, org.id)
    assert broken is not None and broken > second


async def test_the_application_cannot_change_or_delete_audit_lines(
    hub: Resources, org: Organisation,
) -> None:
    await _write(hub, org, 1)
    with pytest.raises(audit.AuditLogIsAppendOnly):
        async with transaction(hub.sessions) as db:
            await db.execute(update(AuditRecord).values(detail="weg"))
    with pytest.raises(audit.AuditLogIsAppendOnly):
        async with transaction(hub.sessions) as db:
            row = await db.scalar(select(AuditRecord))
            assert row is not None
            row.detail = "weg"
    with pytest.raises(audit.AuditLogIsAppendOnly):
        async with transaction(hub.sessions) as db:
            await db.delete(await db.scalar(select(AuditRecord)))
    async with hub.sessions() as db:
        assert await audit.verify_chain(db, org.id) is None
        assert (await db.scalar(select(AuditRecord.detail))) == ""


def _lines(count: int, first_client: int = 100) -> list[audit.Line]:
    return [audit.Line(audit.Event.READ, client_id=first_client + n,
                       object_ref=f"client:{first_client + n}", detail="api: lijst")
            for n in range(count)]


async def test_record_many_continues_one_chain_with_single_records(
    hub: Resources, org: Organisation,
) -> None:
    await _write(hub, org, 1)
    inserts: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if statement.startswith("INSERT INTO audit_log"):
            inserts.append(statement)

    event.listen(hub.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with transaction(hub.sessions) as db:
            assert await audit.record_many(db, _who(org, 2), _lines(20)) == 20
            assert await audit.record_many(db, _who(org, 2), []) == 0
    finally:
        event.remove(hub.engine.sync_engine, "before_cursor_execute", count)
    assert len(inserts) == 1  # one statement for the lot, not one per line
    await _write(hub, org, 3)
    async with hub.sessions() as db:
        rows = list(await db.scalars(select(AuditRecord).order_by(AuditRecord.id)))
        assert await audit.verify_chain(db, org.id) is None
    assert [r.user_id for r in rows] == [1] + [2] * 20 + [3]
    assert [r.client_id for r in rows[1:21]] == list(range(100, 120))  # in the given order
    assert all(r.prev_hash == p.hash for p, r in itertools.pairwise(rows))
    assert {(r.event, r.user_name, r.access_point, r.detail) for r in rows[1:21]} == {
        ("read", "Sanne de Vries 2", "192.0.2.10", "api: lijst")}


@pytest.mark.parametrize(("column", "value"), [("detail", "gewijzigd"), ("client_id", 999)])
async def test_an_altered_record_many_line_breaks_the_chain(
    hub: Resources, org: Organisation, column: str, value: object,
) -> None:
    async with transaction(hub.sessions) as db:
        await audit.record_many(db, _who(org), _lines(30))
    async with hub.sessions() as db:
        target = list(await db.scalars(select(AuditRecord.id).order_by(AuditRecord.id)))[17]
    async with hub.engine.begin() as connection:  # behind the application's back
        await connection.execute(text(f"UPDATE audit_log SET {column} = :v WHERE id = :id"),
                                 {"v": value, "id": target})
    async with hub.sessions() as db:
        assert await audit.verify_chain(db, org.id) == target


async def test_record_many_and_record_racing_keep_one_unbroken_chain(
    hub: Resources, org: Organisation,
) -> None:
    async def many(n: int) -> None:
        async with transaction(hub.sessions) as db:
            await audit.record_many(db, _who(org, n), _lines(25, first_client=n * 100))

    await asyncio.gather(*(many(n) for n in range(4)), *(_write(hub, org, n) for n in range(6)))
    async with hub.sessions() as db:
        rows = list(await db.scalars(select(AuditRecord).order_by(AuditRecord.id)))
        assert await audit.verify_chain(db, org.id) is None
    assert len(rows) == 4 * 25 + 6 and len({r.prev_hash for r in rows}) == len(rows)
