"""PostgreSQL full-text queries; the expressions repeat migration 0002's GIN indexes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnClause, ColumnElement, func, literal_column

# Exactly the indexed expressions of migration 0002 (an index is used for the same text).
MESSAGES_TSV: ColumnClause[Any] = literal_column(
    "to_tsvector('dutch'::regconfig, coalesce(messages.subject, '') || ' ' || "
    "coalesce(messages.sender_name, '') || ' ' || coalesce(messages.body_text, ''))")
CLIENTS_TSV: ColumnClause[Any] = literal_column(
    "to_tsvector('simple'::regconfig, coalesce(clients.given_name, '') || ' ' || "
    "coalesce(clients.family_name, '') || ' ' || "
    "coalesce(translate(clients.client_number, '-/.', '   '), ''))")
# fixed configurations, never user input
_CONFIGS: dict[str, ColumnClause[Any]] = {"dutch": literal_column("'dutch'::regconfig"),
            "simple": literal_column("'simple'::regconfig")}


def tsquery(words: list[str], config: str) -> Any:
    """Every word as a prefix ("jan" finds "Jansen"), all of them required.

    ``words`` are plain word characters (``hub.search.terms``), so the string cannot
    carry tsquery operators of its own.
    """
    return func.to_tsquery(_CONFIGS[config], " & ".join(f"{w}:*" for w in words))


def message_match(words: list[str]) -> ColumnElement[bool]:
    return MESSAGES_TSV.op("@@")(tsquery(words, "dutch"))


def message_rank(words: list[str]) -> Any:
    return func.ts_rank(MESSAGES_TSV, tsquery(words, "dutch"))


def client_match(words: list[str]) -> ColumnElement[bool]:
    return CLIENTS_TSV.op("@@")(tsquery(words, "simple"))


def client_rank(words: list[str]) -> Any:
    return func.ts_rank(CLIENTS_TSV, tsquery(words, "simple"))
