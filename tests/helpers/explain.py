"""EXPLAIN a SQLAlchemy query on either database, with its real bound parameters."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler


class Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, query: Any) -> None:
        self.query = query


@compiles(Explain, "postgresql")
def _explain_pg(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.query, **kw)


@compiles(Explain, "sqlite")
def _explain_sqlite(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN QUERY PLAN " + compiler.process(element.query, **kw)


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [node]
    for child in node.get("Plans", []):
        found += _walk(child)
    return found


async def plan_nodes(session: AsyncSession, query: Any) -> list[dict[str, Any]]:
    """Every node of a PostgreSQL plan, flattened (each dict has "Node Type", ...)."""
    raw = (await session.execute(Explain(query))).scalar_one()
    document = raw if isinstance(raw, list) else __import__("json").loads(raw)
    return _walk(document[0]["Plan"])


async def plan_lines(session: AsyncSession, query: Any) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN, one detail string per step."""
    return [str(row[-1]) for row in await session.execute(Explain(query))]
