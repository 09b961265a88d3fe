"""SQLite FTS5 queries over the ``fts_messages`` and ``fts_clients`` tables (migration 0002)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, column, func, literal_column, table

fts_messages = table("fts_messages", column("rowid"))
fts_clients = table("fts_clients", column("rowid"))


def match_expression(words: list[str]) -> str:
    """``"jan"* "bakker"*``: every word as a quoted prefix, all required.

    Quoting makes FTS5 read each word as a string, never as syntax (AND, NEAR, column:).
    """
    return " ".join(f'"{w}"*' for w in words)


def matches(fts: Any, words: list[str]) -> ColumnElement[bool]:
    return literal_column(fts.name).op("MATCH")(match_expression(words))


def rank(fts: Any) -> Any:
    # bm25 is lower for better matches
    return func.bm25(literal_column(fts.name))
