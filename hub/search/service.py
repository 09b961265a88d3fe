"""``search(session, who, query)``: messages and clients, visible ones only, audited."""

from __future__ import annotations

import dataclasses

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Client, Conversation, Message
from hub.db.models.messaging import Direction
from hub.inbox.queries import names_of
from hub.search import postgres, sqlite
from hub.search.terms import Segments, snippet, terms, usable
from hub.security import audit
from hub.security.access import conversation_visibility, visible_client_ids
from hub.security.principal import Principal

LIMIT = 25


@dataclasses.dataclass
class MessageHit:
    message: Message
    client_id: int | None
    client_name: str
    segments: Segments


@dataclasses.dataclass
class ClientHit:
    client: Client


@dataclasses.dataclass
class SearchResults:
    query: str
    messages: list[MessageHit]
    clients: list[ClientHit]

    @property
    def empty(self) -> bool:
        return not self.messages and not self.clients


async def search(session: AsyncSession, who: Principal, query: str,
                 limit: int = LIMIT) -> SearchResults:
    """Search messages and clients ``who`` may see; one audit line per search."""
    query = query.strip()[:200]
    if not usable(query):
        return SearchResults(query, [], [])
    words = terms(query)
    on_postgres = session.get_bind().dialect.name == "postgresql"
    messages = await _messages(session, who, words, on_postgres, limit)
    clients = await _clients(session, who, words, on_postgres, limit)
    await _audit(session, who, query, messages, clients)
    return SearchResults(query, messages, clients)


def _message_query(who: Principal, words: list[str],
                   on_postgres: bool) -> Select[Message, int | None]:
    query = select(Message, Conversation.client_id)
    if on_postgres:
        query = query.join(Conversation, Conversation.id == Message.conversation_id).where(
            postgres.message_match(words)).order_by(postgres.message_rank(words).desc())
    else:
        fts = sqlite.fts_messages
        query = (query.select_from(fts).join(Message, Message.id == fts.c.rowid)
                 .join(Conversation, Conversation.id == Message.conversation_id)
                 .where(sqlite.matches(fts, words)).order_by(sqlite.rank(fts)))
    query = query.where(conversation_visibility(who), Message.deleted_at.is_(None))
    if not who.is_staff:
        # internal notes are for staff only
        query = query.where(Message.direction != Direction.NOTE.value)
    return query.order_by(Message.created_at.desc())


async def _messages(session: AsyncSession, who: Principal, words: list[str],
                    on_postgres: bool, limit: int) -> list[MessageHit]:
    rows = (await session.execute(_message_query(who, words, on_postgres).limit(limit))).all()
    names = await names_of(session, Client, {client_id for _, client_id in rows})
    return [MessageHit(message, client_id, names.get(client_id, ""),
                       snippet(message.body_text or message.subject, words))
            for message, client_id in rows]


async def _clients(session: AsyncSession, who: Principal, words: list[str],
                   on_postgres: bool, limit: int) -> list[ClientHit]:
    query = select(Client).where(Client.organisation_id == who.organisation_id,
                                 Client.id.in_(visible_client_ids(who)))
    if on_postgres:
        query = query.where(postgres.client_match(words)).order_by(
            postgres.client_rank(words).desc())
    else:
        fts = sqlite.fts_clients
        query = (query.join(fts, fts.c.rowid == Client.id)
                 .where(sqlite.matches(fts, words)).order_by(sqlite.rank(fts)))
    query = query.order_by(Client.family_name, Client.given_name).limit(limit)
    return [ClientHit(client) for client in (await session.scalars(query)).all()]


async def _audit(session: AsyncSession, who: Principal, query: str,
                 messages: list[MessageHit], clients: list[ClientHit]) -> None:
    shown = sorted({h.client_id for h in messages if h.client_id}
                   | {h.client.id for h in clients})
    await audit.record(
        session, who, audit.Event.SEARCH, object_ref="search",
        detail=(f"zoekopdracht {query!r}: {len(messages)} berichten, {len(clients)} "
                f"cliënten; getoonde cliënten {shown}"))
