"""The inbox list: conversations of every channel in one list, newest activity first.

Paging is keyset paging on ``(last_message_at, id)`` descending: the next page starts
after the last row of this one, so page 200 costs what page 1 costs and a conversation
that moves up while someone pages is not shown twice. For every common filter the model
has an index that yields this order (``Conversation.__table_args__``); the query plan is
checked with 100,000 conversations in ``tests/inbox/test_ui_inbox_plan.py``.

What a person may see is decided only by ``hub.security.access.conversation_visibility``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Boolean, Select, and_, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from hub.db.models import Client, Conversation, Message, ReadMarker, Staff, Team, TeamMembership
from hub.db.models.messaging import Channel, ConversationStatus, Direction
from hub.errors import InvalidInput
from hub.security.access import conversation_visibility
from hub.security.principal import Principal

PAGE_SIZE = 50
SCOPES = ("all", "mine", "team", "unassigned")
STATUSES = (*(s.value for s in ConversationStatus), "all")
CHANNELS = tuple(c.value for c in Channel if c is not Channel.NOTE)
# badge counts stop here ("99+"): counting every unread conversation of a big
# organisation on each page view would cost a scan
COUNT_CAP = 100


@dataclasses.dataclass(frozen=True)
class InboxFilter:
    scope: str = "all"
    status: str = ConversationStatus.OPEN.value
    channel: str = ""
    client_id: int | None = None
    unread: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> InboxFilter:
        """Read a filter from query parameters; unknown values are refused, not ignored."""
        scope = params.get("scope") or "all"
        status = params.get("status") or ConversationStatus.OPEN.value
        channel = params.get("channel") or ""
        _check(scope, SCOPES, "scope")
        _check(status, STATUSES, "status")
        if channel:
            _check(channel, CHANNELS, "channel")
        return cls(scope=scope, status=status, channel=channel,
                   client_id=_int_or_none(params.get("client"), "client"),
                   unread=params.get("unread") in ("1", "on", "true"))

    def as_params(self, **changes: Any) -> dict[str, str]:
        """Query parameters for a link to this filter, with ``changes`` applied."""
        flt = dataclasses.replace(self, **changes)
        params = {"scope": flt.scope, "status": flt.status, "channel": flt.channel,
                  "client": str(flt.client_id or ""), "unread": "1" if flt.unread else ""}
        return {k: v for k, v in params.items() if v}


def _check(value: str, allowed: Sequence[str], field: str) -> None:
    if value not in allowed:
        raise InvalidInput(f"onbekende waarde voor {field}", field=field, value=value[:40])


def _int_or_none(raw: str | None, field: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit():
        raise InvalidInput(f"{field} moet een getal zijn", field=field)
    return int(raw)


@dataclasses.dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after this (last_message_at, id)."""

    at: dt.datetime
    id: int

    def encode(self) -> str:
        raw = f"{self.at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            at, _, ident = raw.partition("|")
            moment = dt.datetime.fromisoformat(at)
            if moment.tzinfo is None:
                raise ValueError(at)
            return cls(moment, int(ident))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidInput("ongeldige paginaverwijzing", field="after") from exc


@dataclasses.dataclass
class InboxRow:
    conversation: Conversation
    client_name: str = ""
    assignee_name: str = ""
    team_name: str = ""
    # messages from the other side after this person's read marker
    unread: int = 0


@dataclasses.dataclass
class InboxPage:
    rows: list[InboxRow]
    next_cursor: str | None


def read_marker_seq(who: Principal) -> Any:
    """The reader's ``last_read_seq`` for the outer query's conversation (0 when none)."""
    mine = (ReadMarker.portal_user_id == who.user_id if who.is_portal
            else ReadMarker.staff_id == who.user_id)
    marker = select(ReadMarker.last_read_seq).where(
        ReadMarker.conversation_id == Conversation.id, mine).scalar_subquery()
    return func.coalesce(marker, 0)


def _my_teams(who: Principal) -> Select[Any]:
    return select(TeamMembership.team_id).where(
        TeamMembership.organisation_id == who.organisation_id,
        TeamMembership.staff_id == who.user_id)


class NotForIndexes(ColumnElement[bool]):
    """A condition the SQLite planner must check row by row, not plan an index around.

    Left alone, SQLite splits the visibility clause (``client_id IS NULL OR client_id IN
    (...)``) into one index lookup per visible client and then sorts every visible
    conversation. Written as ``+(...)`` it is a plain filter, and SQLite walks the index
    that gives the page order, as PostgreSQL does by itself (see the query-plan test).
    """

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [("clause", InternalTraversal.dp_clauseelement)]

    def __init__(self, clause: ColumnElement[bool]) -> None:
        self.clause = clause


@compiles(NotForIndexes)
def _plain(element: NotForIndexes, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clause, **kw))


@compiles(NotForIndexes, "sqlite")
def _opaque_for_sqlite(element: NotForIndexes, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+({compiler.process(element.clause, **kw)})"


def filter_clause(who: Principal, flt: InboxFilter) -> ColumnElement[bool]:
    """Visibility plus the chosen filters, as one WHERE clause on ``Conversation``."""
    parts: list[ColumnElement[bool]] = [
        Conversation.organisation_id == who.organisation_id,
        NotForIndexes(conversation_visibility(who)),
    ]
    if flt.scope == "mine":
        parts.append(Conversation.assignee_staff_id == who.user_id)
    elif flt.scope == "team":
        parts.append(Conversation.assignee_team_id.in_(_my_teams(who)))
    elif flt.scope == "unassigned":
        parts += [Conversation.assignee_staff_id.is_(None),
                  Conversation.assignee_team_id.is_(None)]
    if flt.status != "all":
        parts.append(Conversation.status == flt.status)
    if flt.channel:
        parts.append(Conversation.channel == flt.channel)
    if flt.client_id is not None:
        parts.append(Conversation.client_id == flt.client_id)
    if flt.unread:
        # "new activity since I last read": notes and replies of colleagues count too;
        # one's own replies and notes move one's marker (hub.inbox.actions.mark_read)
        parts.append(Conversation.last_seq > read_marker_seq(who))
    return and_(*parts)


def page_query(who: Principal, flt: InboxFilter, cursor: Cursor | None = None,
               limit: int = PAGE_SIZE) -> Select[Any]:
    """The page's conversations; ordered by an index for every common filter."""
    query = select(Conversation).where(filter_clause(who, flt))
    if cursor is not None:
        query = query.where(tuple_(Conversation.last_message_at, Conversation.id)
                            < tuple_(cursor.at, cursor.id))
    return query.order_by(Conversation.last_message_at.desc(),
                          Conversation.id.desc()).limit(limit)


async def inbox_page(session: AsyncSession, who: Principal, flt: InboxFilter,
                     after: str | None = None, limit: int = PAGE_SIZE) -> InboxPage:
    cursor = Cursor.decode(after) if after else None
    found: list[Conversation] = list(
        (await session.scalars(page_query(who, flt, cursor, limit + 1))).all())
    more = len(found) > limit
    conversations = found[:limit]
    rows = await decorate(session, who, conversations)
    next_cursor = None
    if more and conversations:
        last = conversations[-1]
        assert last.last_message_at is not None
        next_cursor = Cursor(last.last_message_at, last.id).encode()
    return InboxPage(rows, next_cursor)


async def decorate(session: AsyncSession, who: Principal,
                   conversations: Sequence[Conversation]) -> list[InboxRow]:
    """Names and unread counts for a page of conversations, in one query by primary key."""
    if not conversations:
        return []
    other_side = Direction.OUTBOUND if who.is_portal else Direction.INBOUND
    mine = (ReadMarker.portal_user_id == who.user_id if who.is_portal
            else ReadMarker.staff_id == who.user_id)
    # one level of correlation only: the marker is joined here, not looked up inside
    unread = select(func.count()).where(
        Message.conversation_id == Conversation.id, Message.direction == other_side.value,
        Message.seq > func.coalesce(ReadMarker.last_read_seq, 0)).scalar_subquery()
    query = (
        select(Conversation.id, Client.given_name, Client.family_name, Staff.name, Team.name,
               unread)
        .select_from(Conversation)
        .outerjoin(ReadMarker, and_(ReadMarker.conversation_id == Conversation.id, mine))
        .outerjoin(Client, Client.id == Conversation.client_id)
        .outerjoin(Staff, Staff.id == Conversation.assignee_staff_id)
        .outerjoin(Team, Team.id == Conversation.assignee_team_id)
        .where(Conversation.id.in_([c.id for c in conversations])))
    found = {row[0]: row[1:] for row in await session.execute(query)}
    return [_row(c, found.get(c.id)) for c in conversations]


def _row(conversation: Conversation, found: Any) -> InboxRow:
    if found is None:
        return InboxRow(conversation)
    given, family, staff, team, unread = found
    client = f"{given} {family}" if given is not None else ""
    return InboxRow(conversation, client, staff or "", team or "", int(unread or 0))


async def names_of(session: AsyncSession, model: type[Client] | type[Staff] | type[Team],
                 ids: set[int | None]) -> dict[int | None, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    if model is Client:
        label: Any = Client.given_name + " " + Client.family_name
    else:
        label = model.name  # type: ignore[union-attr]
    result = await session.execute(select(model.id, label).where(model.id.in_(wanted)))
    return {row[0]: row[1] for row in result}


async def unread_counts(session: AsyncSession, who: Principal) -> dict[str, int]:
    """Open conversations with new activity, per scope, each capped at ``COUNT_CAP``.

    One statement (four capped subqueries): one round trip for the tabs' badges.
    """
    counts = []
    for scope in SCOPES:
        flt = InboxFilter(scope=scope, status=ConversationStatus.OPEN.value, unread=True)
        capped = select(Conversation.id).where(filter_clause(who, flt)).limit(COUNT_CAP)
        counts.append(select(func.count()).select_from(capped.subquery()).scalar_subquery())
    row = (await session.execute(select(*counts))).one()
    return {scope: int(value or 0) for scope, value in zip(SCOPES, row, strict=True)}


def visible_conversations(who: Principal, *extra: ColumnElement[bool]) -> Select[Any]:
    """Conversations ``who`` may see, newest activity first (client timelines, portal)."""
    return (select(Conversation).where(conversation_visibility(who), *extra)
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc()))

