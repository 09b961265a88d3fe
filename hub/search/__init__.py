"""Full-text search over messages and clients, limited to what the searching user may see.

PostgreSQL uses ``to_tsvector`` with GIN indexes, SQLite the FTS5 tables; both are made
by migration ``0002_search``. The visibility rules of ``hub.security.access`` are part of
the query itself, so nothing the user may not see is ever fetched, and every search is
written to the audit log (event ``search``) with the clients it showed.
"""

from __future__ import annotations

from hub.search.service import ClientHit, MessageHit, SearchResults, search

__all__ = ["ClientHit", "MessageHit", "SearchResults", "search"]
