"""Search staff chat like the inbox: the same terms (``hub.search.terms``), PostgreSQL
full text with Dutch stemming and prefixes, limited to the rooms one is a member of.

Chat volume per organisation is small, so there is no dedicated index: PostgreSQL
evaluates ``to_tsvector`` over the member's rooms, SQLite matches every term as a
case-insensitive substring.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.chat.access import my_rooms
from hub.db.models import ChatMessage, Room, Staff
from hub.search import postgres
from hub.search.terms import snippet, terms, usable
from hub.security.principal import Principal

MAX_HITS = 50


def _matches(dialect: str, words: list[str]) -> ColumnElement[bool]:
    if dialect == "postgresql":
        vector = func.to_tsvector(literal_column("'dutch'::regconfig"), ChatMessage.body)
        return vector.op("@@")(postgres.tsquery(words, "dutch"))
    body = func.lower(ChatMessage.body)
    return and_(*(body.like(f"%{_escape(w)}%", escape="\\") for w in words))


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_chat(session: AsyncSession, who: Principal, query: str,
                      limit: int = MAX_HITS) -> list[dict[str, Any]]:
    """Messages in ``who``'s rooms matching every term, newest first."""
    if not usable(query):
        return []
    words = terms(query)
    dialect = session.get_bind().dialect.name
    rows = await session.execute(
        select(ChatMessage, Staff.name, Room.name)
        .join(Room, Room.id == ChatMessage.room_id)
        .outerjoin(Staff, Staff.id == ChatMessage.sender_staff_id)
        .where(ChatMessage.room_id.in_(my_rooms(who)), ChatMessage.deleted_at.is_(None),
               _matches(dialect, words))
        .order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc()).limit(limit))
    return [_hit(m, sender or "", room or "", words) for m, sender, room in rows.all()]


def _hit(message: ChatMessage, sender: str, room: str, words: list[str]) -> dict[str, Any]:
    return {"room_id": message.room_id, "room_name": room, "seq": message.seq,
            "sender_name": sender, "created_at": message.created_at.isoformat(),
            "snippet": snippet(message.body, words)}
