"""Need to know (invariant 5): the one place that decides who may see which client.

- staff: a care relationship with the client, personally (caseload) or through a team
  they belong to; a coordinator of a team sees all of that team's clients;
- admin: manages settings and users, but reads client data only through an audited,
  time-limited emergency access (``EmergencyAccess`` rows, made by
  ``hub.web.staff_pages.emergency_access``), never by role alone;
- portal user: only the clients they are linked to;
- api token: the client records of its organisation (for an ECD sync), not conversations.

Every function takes the organisation from the principal, so another organisation's
ids never match. Pages, the JSON API and websocket subscriptions all call these.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from hub.db.models import (
    CareRelationship,
    Client,
    Conversation,
    EmergencyAccess,
    PortalLink,
    TeamMembership,
)
from hub.security.principal import Principal


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _current(rel: type[CareRelationship]) -> ColumnElement[bool]:
    today = _today()
    return and_(
        or_(rel.starts_on.is_(None), rel.starts_on <= today),
        or_(rel.ends_on.is_(None), rel.ends_on >= today),
    )


def visible_client_ids(who: Principal) -> Select[Any]:
    """A subquery of the client ids ``who`` may see (empty for admins without emergency)."""
    org = who.organisation_id
    if who.kind == "portal":
        return select(PortalLink.client_id).where(
            PortalLink.organisation_id == org, PortalLink.portal_user_id == who.user_id)
    if who.kind == "api":
        return select(Client.id).where(Client.organisation_id == org)
    if who.kind == "staff" and who.role == "admin":
        return emergency_client_ids(who)
    if who.kind != "staff":
        return select(Client.id).where(Client.id.is_(None))
    my_teams = select(TeamMembership.team_id).where(
        TeamMembership.organisation_id == org, TeamMembership.staff_id == who.user_id)
    by_relationship = select(CareRelationship.client_id).where(
        CareRelationship.organisation_id == org, _current(CareRelationship),
        or_(CareRelationship.staff_id == who.user_id, CareRelationship.team_id.in_(my_teams)),
    )
    coordinated = select(TeamMembership.team_id).where(
        TeamMembership.organisation_id == org, TeamMembership.staff_id == who.user_id,
        TeamMembership.is_coordinator.is_(True))
    by_team = select(Client.id).where(Client.organisation_id == org,
                                      Client.team_id.in_(coordinated))
    return select(by_relationship.union(by_team).subquery().c[0])


def emergency_client_ids(who: Principal) -> Select[Any]:
    """Clients this admin opened through a current emergency access ("break the glass")."""
    return select(EmergencyAccess.client_id).where(
        EmergencyAccess.organisation_id == who.organisation_id,
        EmergencyAccess.staff_id == who.user_id,
        EmergencyAccess.expires_at > dt.datetime.now(dt.UTC))


async def can_see_client(session: AsyncSession, who: Principal, client_id: int) -> bool:
    query = select(exists().where(Client.id == client_id,
                                  Client.organisation_id == who.organisation_id,
                                  Client.id.in_(visible_client_ids(who))))
    return bool(await session.scalar(query))


def conversation_visibility(who: Principal) -> ColumnElement[bool]:
    """A WHERE clause on ``Conversation`` for what ``who`` may see.

    Staff also see unlinked conversations (no client yet) so they can be triaged and
    linked; those carry no client record until a person links them.
    """
    in_org = Conversation.organisation_id == who.organisation_id
    if who.kind == "staff" and who.role != "admin":
        return and_(in_org, or_(Conversation.client_id.is_(None),
                                Conversation.client_id.in_(visible_client_ids(who))))
    if who.kind == "portal":
        return and_(in_org, Conversation.channel == "portal",
                    Conversation.client_id.in_(visible_client_ids(who)))
    if who.kind == "staff" and who.role == "admin":
        return and_(in_org, or_(Conversation.client_id.is_(None),
                                Conversation.client_id.in_(emergency_client_ids(who))))
    return and_(in_org, ~true())


async def can_see_conversation(
    session: AsyncSession, who: Principal, conversation_id: int
) -> bool:
    query = select(exists().where(Conversation.id == conversation_id,
                                  conversation_visibility(who)))
    return bool(await session.scalar(query))
