"""A unit of work is atomic on both databases, savepoints included."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.db.models import Organisation
from hub.resources import Resources


class Boom(Exception):
    pass


async def _count(hub: Resources) -> int:
    async with hub.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Organisation)) or 0)


async def test_work_inside_a_first_savepoint_rolls_back_with_the_transaction(
    hub: Resources,
) -> None:
    with pytest.raises(Boom):
        async with hub.sessions() as session, session.begin():
            # the savepoint is the transaction's first statement: with the sqlite3
            # module's own transaction handling its RELEASE used to commit for good
            async with session.begin_nested():
                session.add(Organisation(slug="savepoint", name="Zorg Savepoint"))
            raise Boom
    assert await _count(hub) == 0


async def test_a_read_then_write_transaction_is_one_transaction(hub: Resources) -> None:
    with pytest.raises(Boom):
        async with hub.sessions() as session, session.begin():
            await session.scalar(select(func.count()).select_from(Organisation))
            session.add(Organisation(slug="later", name="Zorg Later"))
            await session.flush()
            raise Boom
    assert await _count(hub) == 0
