"""Everything a conversation page shows, read in a few queries and audited once.

Staff get every message of every channel in order, with internal notes; portal users get
the same without the notes. Opening a conversation reads it: the viewer's marker moves
to the end, and for a portal user the staff replies become ``read``.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import (
    Attachment,
    CannedReply,
    CareRelationship,
    Client,
    ClientContact,
    Conversation,
    Message,
    Staff,
    Team,
    TeamMembership,
)
from hub.db.models.messaging import Direction
from hub.inbox.actions import load_visible
from hub.security import audit
from hub.security.access import can_see_conversation
from hub.security.principal import Principal

MAX_MESSAGES = 500


@dataclasses.dataclass
class ThreadItem:
    message: Message
    attachments: list[Attachment]

    @property
    def is_note(self) -> bool:
        return self.message.direction == Direction.NOTE.value


@dataclasses.dataclass
class Thread:
    conversation: Conversation
    items: list[ThreadItem]
    client: Client | None = None
    contact: ClientContact | None = None
    assignee: Staff | None = None
    team: Team | None = None
    # staff pages only
    colleagues: list[Staff] = dataclasses.field(default_factory=list)
    teams: list[Team] = dataclasses.field(default_factory=list)
    canned: list[CannedReply] = dataclasses.field(default_factory=list)
    # more messages exist before the first one shown
    truncated: bool = False


async def load_thread(session: AsyncSession, who: Principal, conversation_id: int) -> Thread:
    """The conversation as ``who`` may see it; NotFound otherwise. Writes a READ line."""
    conversation = await load_visible(session, who, conversation_id)
    items, truncated = await _items(session, who, conversation)
    thread = Thread(conversation, items, truncated=truncated)
    await _people(session, thread)
    if who.is_staff:
        thread.colleagues = await assignable_staff(session, who, conversation)
        thread.teams = await _teams(session, who)
        thread.canned = list((await session.scalars(select(CannedReply).where(
            CannedReply.organisation_id == who.organisation_id)
            .order_by(CannedReply.title))).all())
    await audit.record(session, who, audit.Event.READ, client_id=conversation.client_id,
                       object_ref=f"conversation:{conversation.id}",
                       detail=read_detail(who, conversation.client_id))
    return thread


def read_detail(who: Principal, client_id: int | None) -> str:
    """An admin reads client data only through emergency access: the log says so."""
    emergency = who.is_staff and who.role == "admin" and client_id is not None
    return "via noodtoegang" if emergency else "geopend"


async def _items(session: AsyncSession, who: Principal,
                 conversation: Conversation) -> tuple[list[ThreadItem], bool]:
    query = select(Message).where(Message.conversation_id == conversation.id)
    if not who.is_staff:
        query = query.where(Message.direction != Direction.NOTE.value)
    newest = list((await session.scalars(
        query.order_by(Message.seq.desc()).limit(MAX_MESSAGES + 1))).all())
    truncated = len(newest) > MAX_MESSAGES
    messages = list(reversed(newest[:MAX_MESSAGES]))
    files = await attachments_of(session, [m.id for m in messages])
    return [ThreadItem(m, files.get(m.id, [])) for m in messages], truncated


async def attachments_of(session: AsyncSession,
                         message_ids: list[int]) -> dict[int, list[Attachment]]:
    if not message_ids:
        return {}
    rows = await session.scalars(select(Attachment).where(
        Attachment.message_id.in_(message_ids), Attachment.inline.is_(False))
        .order_by(Attachment.id))
    found: dict[int, list[Attachment]] = defaultdict(list)
    for row in rows:
        found[row.message_id or 0].append(row)
    return found


async def _people(session: AsyncSession, thread: Thread) -> None:
    conversation = thread.conversation
    thread.client = await _get(session, Client, conversation.client_id)
    thread.contact = await _get(session, ClientContact, conversation.contact_id)
    thread.assignee = await _get(session, Staff, conversation.assignee_staff_id)
    thread.team = await _get(session, Team, conversation.assignee_team_id)


async def _get(session: AsyncSession, model: Any, ident: int | None) -> Any:
    return await session.get(model, ident) if ident is not None else None


async def _teams(session: AsyncSession, who: Principal) -> list[Team]:
    return list((await session.scalars(select(Team).where(
        Team.organisation_id == who.organisation_id).order_by(Team.name))).all())


async def assignable_staff(session: AsyncSession, who: Principal,
                           conversation: Conversation) -> list[Staff]:
    """Active colleagues who may see the conversation (the only ones it can go to).

    Candidates come from the client's care relationships and team; each is then checked
    with the one rule of ``hub.security.access``, so this list never disagrees with it.
    """
    query = select(Staff).where(Staff.organisation_id == who.organisation_id,
                                Staff.active.is_(True)).order_by(Staff.name)
    if conversation.client_id is not None:
        query = query.where(Staff.id.in_(_candidates(conversation)))
    found = []
    for staff in (await session.scalars(query)).all():
        colleague = Principal("staff", staff.organisation_id, staff.id, staff.name, staff.role)
        if await can_see_conversation(session, colleague, conversation.id):
            found.append(staff)
    return found


def _candidates(conversation: Conversation) -> Any:
    relations = select(CareRelationship.staff_id, CareRelationship.team_id).where(
        CareRelationship.client_id == conversation.client_id).subquery()
    client_team = select(Client.team_id).where(Client.id == conversation.client_id)
    return select(Staff.id).outerjoin(TeamMembership, TeamMembership.staff_id == Staff.id).where(
        Staff.organisation_id == conversation.organisation_id,
        or_(Staff.id.in_(select(relations.c.staff_id)),
            TeamMembership.team_id.in_(select(relations.c.team_id)),
            TeamMembership.team_id.in_(client_team)))
