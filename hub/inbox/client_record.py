"""The client record page: every conversation of one client, across channels, on one
timeline, with the client's contacts, who may see the record, and the planned follow-ups.

Only staff with a care relationship (``hub.security.access``) get it; reading it is one
audit line for the client.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import (
    CareRelationship,
    Client,
    ClientContact,
    Conversation,
    Message,
    PortalLink,
    PortalUser,
    ScheduledFollowUp,
    Staff,
    Team,
)
from hub.errors import NotFound
from hub.inbox.detail import attachments_of, read_detail
from hub.inbox.queries import InboxRow, decorate
from hub.security import audit
from hub.security.access import can_see_client, conversation_visibility
from hub.security.principal import Principal

TIMELINE_SIZE = 100
CONVERSATIONS_SHOWN = 100


@dataclasses.dataclass
class Carer:
    """One line of "who may see this record": a colleague or a whole team."""

    kind: str  # staff or team
    name: str
    starts_on: dt.date | None
    ends_on: dt.date | None


@dataclasses.dataclass
class TimelineEntry:
    message: Message
    conversation: Conversation
    attachment_count: int


@dataclasses.dataclass
class ClientRecord:
    client: Client
    team: Team | None
    contacts: list[ClientContact]
    carers: list[Carer]
    portal_users: list[tuple[PortalUser, str]]
    conversations: list[InboxRow]
    timeline: list[TimelineEntry]
    followups: list[ScheduledFollowUp]


async def load_client_record(session: AsyncSession, who: Principal,
                             client_id: int) -> ClientRecord:
    if not who.is_staff or not await can_see_client(session, who, client_id):
        raise NotFound("cliënt niet gevonden", client_id=client_id)
    client = await session.get(Client, client_id)
    assert client is not None
    record = ClientRecord(
        client=client,
        team=await session.get(Team, client.team_id) if client.team_id else None,
        contacts=await _contacts(session, client),
        carers=await _carers(session, client),
        portal_users=await _portal_users(session, client),
        conversations=await _conversations(session, who, client),
        timeline=await timeline(session, who, client.id),
        followups=await _followups(session, client))
    await audit.record(session, who, audit.Event.READ, client_id=client.id,
                       object_ref=f"client:{client.id}", detail=read_detail(who, client.id))
    return record


async def _contacts(session: AsyncSession, client: Client) -> list[ClientContact]:
    return list((await session.scalars(select(ClientContact).where(
        ClientContact.client_id == client.id).order_by(ClientContact.name))).all())


async def _carers(session: AsyncSession, client: Client) -> list[Carer]:
    rows = (await session.execute(
        select(CareRelationship, Staff.name, Team.name)
        .outerjoin(Staff, Staff.id == CareRelationship.staff_id)
        .outerjoin(Team, Team.id == CareRelationship.team_id)
        .where(CareRelationship.client_id == client.id)
        .order_by(CareRelationship.id))).all()
    return [Carer("staff" if rel.staff_id else "team", staff or team or "",
                  rel.starts_on, rel.ends_on) for rel, staff, team in rows]


async def _portal_users(session: AsyncSession,
                        client: Client) -> list[tuple[PortalUser, str]]:
    rows = await session.execute(
        select(PortalUser, PortalLink.relation)
        .join(PortalLink, PortalLink.portal_user_id == PortalUser.id)
        .where(PortalLink.client_id == client.id).order_by(PortalUser.name))
    return [(user, relation) for user, relation in rows.all()]


async def _conversations(session: AsyncSession, who: Principal,
                         client: Client) -> list[InboxRow]:
    rows = await session.scalars(
        select(Conversation).where(conversation_visibility(who),
                                   Conversation.client_id == client.id)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(CONVERSATIONS_SHOWN))
    return await decorate(session, who, list(rows.all()))


async def timeline(session: AsyncSession, who: Principal, client_id: int,
                   limit: int = TIMELINE_SIZE) -> list[TimelineEntry]:
    """The client's newest messages of every channel, newest first."""
    rows = (await session.execute(
        select(Message, Conversation).join(Conversation,
                                           Conversation.id == Message.conversation_id)
        .where(conversation_visibility(who), Conversation.client_id == client_id,
               Message.deleted_at.is_(None))
        .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit))).all()
    files = await attachments_of(session, [m.id for m, _ in rows])
    return [TimelineEntry(m, c, len(files.get(m.id, []))) for m, c in rows]


async def _followups(session: AsyncSession, client: Client) -> list[ScheduledFollowUp]:
    return list((await session.scalars(select(ScheduledFollowUp).where(
        ScheduledFollowUp.client_id == client.id,
        ScheduledFollowUp.status == "planned").order_by(ScheduledFollowUp.due_at)
        .limit(50))).all())
