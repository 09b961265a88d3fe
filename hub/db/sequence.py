"""Per-stream sequence numbers, handed out in the transaction that stores the message.

``UPDATE ... SET last_seq = last_seq + 1 RETURNING last_seq`` takes the row lock on
PostgreSQL (SQLite serialises writers), so two concurrent senders never get the same
number and a rolled-back message gives its number back (invariant 1).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Conversation, Room
from hub.errors import NotFound

Stream = type[Conversation] | type[Room]


def _statement(stream: Stream, stamped: bool) -> Any:
    table: Table = stream.__table__  # type: ignore[assignment]
    values: dict[str, Any] = {"last_seq": table.c.last_seq + 1}
    if stamped:
        values["last_message_at"] = bindparam("message_at")
    return (update(table).where(table.c.id == bindparam("stream_id")).values(**values)
            .returning(table.c.last_seq))


# built once: building an UPDATE costs more CPU than running it
_NEXT = {(stream, stamped): _statement(stream, stamped)
         for stream in (Conversation, Room) for stamped in (False, True)}


async def next_seq(session: AsyncSession, stream: Stream, stream_id: int,
                   message_at: dt.datetime | None = None) -> int:
    """The stream's next sequence number; ``message_at``: a new message, whose time
    becomes the stream's ``last_message_at`` in the same statement."""
    params: dict[str, Any] = {"stream_id": stream_id}
    if message_at is not None:
        params["message_at"] = message_at
    # on the session's connection: a plain UPDATE, without the ORM's bulk-update steps
    connection = await session.connection()
    result = await connection.execute(_NEXT[stream, message_at is not None], params)
    seq = result.scalar_one_or_none()
    if seq is None:
        raise NotFound(f"no such {stream.__tablename__[:-1]}", id=stream_id)
    return int(seq)
