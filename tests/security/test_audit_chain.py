from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text, update

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
