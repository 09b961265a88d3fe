"""full-text search over messages and clients

Revision ID: 0002
Revises: 0001

Hand-written and dialect-aware, because the two databases search differently:

- PostgreSQL: GIN expression indexes over ``to_tsvector``; the queries in
  ``hub.search`` repeat exactly these expressions so the planner can use them. Messages
  use the ``dutch`` configuration (stemming: "afspraken" finds "afspraak"); client
  names use ``simple``, because names must not be stemmed and are searched by prefix;
  dashes in client numbers become spaces ("C-7781" would otherwise index as "-7781").
- SQLite: FTS5 tables with external content (no second copy of the text) kept in sync
  by triggers. A later SQLite batch migration that recreates ``messages`` or ``clients``
  drops these triggers and must create them again.

Every object here is named ``fts_*``, ``ix_search_*`` or ``trg_*``: the model-vs-
migration test knows such objects exist only in migrations.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep in sync with hub/search/postgres.py (the index is only used for the same text).
PG_MESSAGES = (
    "to_tsvector('dutch'::regconfig, coalesce(subject, '') || ' ' || "
    "coalesce(sender_name, '') || ' ' || coalesce(body_text, ''))"
)
PG_CLIENTS = (
    "to_tsvector('simple'::regconfig, coalesce(given_name, '') || ' ' || "
    "coalesce(family_name, '') || ' ' || "
    "coalesce(translate(client_number, '-/.', '   '), ''))"
)

# table -> (FTS table, indexed columns)
SQLITE_TABLES = {
    "messages": ("fts_messages", ("subject", "sender_name", "body_text")),
    "clients": ("fts_clients", ("given_name", "family_name", "client_number")),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_search_messages ON messages USING gin ({PG_MESSAGES})")
        op.execute(f"CREATE INDEX ix_search_clients ON clients USING gin ({PG_CLIENTS})")
        return
    for table, (fts, columns) in SQLITE_TABLES.items():
        for statement in _sqlite_create(table, fts, columns):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_clients")
        op.execute("DROP INDEX IF EXISTS ix_search_messages")
        return
    for table, (fts, _columns) in SQLITE_TABLES.items():
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_fts_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {fts}")


def _sqlite_create(table: str, fts: str, columns: tuple[str, ...]) -> list[str]:
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    insert_new = f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new});"
    # external-content FTS5 deletes by repeating the old values with the 'delete' command
    delete_old = f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old});"
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{table}', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER trg_{table}_fts_ai AFTER INSERT ON {table} BEGIN {insert_new} END",
        f"CREATE TRIGGER trg_{table}_fts_ad AFTER DELETE ON {table} BEGIN {delete_old} END",
        f"CREATE TRIGGER trg_{table}_fts_au AFTER UPDATE OF {cols} ON {table} "
        f"BEGIN {delete_old} {insert_new} END",
        # rows that existed before this migration
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]
