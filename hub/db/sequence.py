"""Per-stream sequence numbers, handed out in the transaction that stores the message.

``UPDATE ... SET last_seq = last_seq + 1 RETURNING last_seq`` takes the row lock on
PostgreSQL (SQLite serialises writers), so two concurrent senders never get the same
number and a rolled-back message gives its number back (invariant 1).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Conversation, Room
from hub.errors import NotFound


async def next_seq(session: AsyncSession, stream: type[Conversation] | type[Room],
                   stream_id: int) -> int:
    result = await session.execute(
        update(stream).where(stream.id == stream_id)
        .values(last_seq=stream.last_seq + 1).returning(stream.last_seq)
        .execution_options(synchronize_session=False)
    )
    seq = result.scalar_one_or_none()
    if seq is None:
        raise NotFound(f"no such {stream.__tablename__[:-1]}", id=stream_id)
    return int(seq)
