"""Client records in the database: create, change, look up, list, and their JSON shape.

Every function takes the organisation id and filters on it, so a client of another
organisation is never found, changed or counted. Who may *see* a client follows from
care relationships (``hub.security.access``): a client with a team gets a team
relationship, and moving the client to another team ends the old one and starts a new
one, announcing the change on the organisation's access channel.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.base import utcnow
from hub.db.models import CareRelationship, Client, ClientContact, Team
from hub.errors import InvalidInput, NotFound
from hub.events import emit
from hub.realtime.topics import access_channel
from hub.records.duplicates import find_duplicate, name_key
from hub.records.normalise import fold
from hub.records.validation import ClientData, ContactData


def today() -> dt.date:
    return utcnow().date()


async def find_team(session: AsyncSession, organisation_id: int, name: str) -> Team | None:
    """The team with this name, ignoring case, accents and spacing.

    Compared here rather than in SQL: SQLite's lower() knows only ASCII, and an
    organisation has a handful of teams.
    """
    wanted = fold(name)
    teams = await session.scalars(select(Team).where(Team.organisation_id == organisation_id))
    return next((team for team in teams if fold(team.name) == wanted), None)


async def ensure_team(session: AsyncSession, organisation_id: int, name: str) -> Team:
    """The team with this name, created when missing."""
    team = await find_team(session, organisation_id, name)
    if team is None:
        team = Team(organisation_id=organisation_id, name=name)
        session.add(team)
        await session.flush()
    return team


def new_contact(client: Client, data: ContactData) -> ClientContact:
    return ClientContact(organisation_id=client.organisation_id, client_id=client.id,
                         name=data.name, relation=data.relation, email=data.email,
                         phone=data.phone, whatsapp_id=data.whatsapp_id)


async def add_client(session: AsyncSession, organisation_id: int, data: ClientData,
                     team: Team | None) -> Client:
    """Insert a checked client with its contacts and team relationship (no duplicate check)."""
    client = Client(organisation_id=organisation_id, client_number=data.client_number,
                    given_name=data.given_name, family_name=data.family_name,
                    date_of_birth=data.date_of_birth, team_id=team.id if team else None,
                    status=data.status, notes=data.notes)
    session.add(client)
    await session.flush()
    session.add_all([new_contact(client, contact) for contact in data.contacts])
    if team is not None:
        session.add(CareRelationship(organisation_id=organisation_id, client_id=client.id,
                                     team_id=team.id, starts_on=today()))
    await session.flush()
    return client


async def create_client(session: AsyncSession, organisation_id: int, data: ClientData
                        ) -> Client:
    """Insert ``data`` unless it duplicates a client; ``DuplicateClient`` otherwise."""
    key = name_key(data.given_name, data.family_name, data.date_of_birth)
    duplicate = await find_duplicate(session, organisation_id, data.client_number, key)
    if duplicate is not None:
        raise duplicate.error()
    team = await ensure_team(session, organisation_id, data.team) if data.team else None
    try:
        async with session.begin_nested():
            return await add_client(session, organisation_id, data, team)
    except IntegrityError:
        # a concurrent request took the number between our check and our insert
        duplicate = await find_duplicate(session, organisation_id, data.client_number, None)
        if duplicate is None:
            raise
        raise duplicate.error() from None


async def get_client(session: AsyncSession, organisation_id: int, client_number: str
                     ) -> Client:
    client = await session.scalar(select(Client).where(
        Client.organisation_id == organisation_id, Client.client_number == client_number))
    if client is None:
        raise NotFound("onbekende cliënt", client_number=client_number)
    return client


_IDENTITY = ("given_name", "family_name", "date_of_birth")


async def change_client(session: AsyncSession, client: Client, changes: dict[str, Any]
                        ) -> list[str]:
    """Apply checked ``changes``; returns the names of the fields that really changed.

    The client number is the record's key (and the ECD's): it cannot be changed here.
    """
    if changes.get("client_number", client.client_number) != client.client_number:
        raise InvalidInput("ongeldige invoer",
                           fields={"client_number": "kan niet gewijzigd worden"})
    changed = [name for name, value in changes.items()
               if name != "team" and getattr(client, name) != value]
    merged = {name: changes.get(name, getattr(client, name)) for name in _IDENTITY}
    if any(name in _IDENTITY for name in changed):
        key = name_key(merged["given_name"], merged["family_name"], merged["date_of_birth"])
        duplicate = await find_duplicate(session, client.organisation_id,
                                         client.client_number, key, exclude_id=client.id)
        if duplicate is not None:
            raise duplicate.error()
    for name in changed:
        setattr(client, name, changes[name])
    if "team" in changes and await _change_team(session, client, changes["team"]):
        changed.append("team")
    if changed:
        client.updated_at = utcnow()
        await session.flush()
    return changed


async def _change_team(session: AsyncSession, client: Client, name: str | None) -> bool:
    org = client.organisation_id
    team = await ensure_team(session, org, name) if name else None
    new_id = team.id if team else None
    if new_id == client.team_id:
        return False
    old_id, client.team_id = client.team_id, new_id
    await move_team_relationship(session, client, new_id)
    emit(session, access_channel(org), {"type": "client_team_changed", "client_id": client.id,
                                         "old_team_id": old_id, "new_team_id": new_id})
    return True


async def move_team_relationship(session: AsyncSession, client: Client,
                                 team_id: int | None) -> None:
    """End the client's current team relationships (yesterday) and start one for team_id.

    Personal caseload relationships are left alone: they belong to a person, not a team.
    """
    day = today()
    await session.execute(
        update(CareRelationship)
        .where(CareRelationship.organisation_id == client.organisation_id,
               CareRelationship.client_id == client.id, CareRelationship.team_id.is_not(None),
               or_(CareRelationship.ends_on.is_(None), CareRelationship.ends_on >= day))
        .values(ends_on=day - dt.timedelta(days=1))
        .execution_options(synchronize_session=False))
    if team_id is not None:
        session.add(CareRelationship(organisation_id=client.organisation_id,
                                     client_id=client.id, team_id=team_id, starts_on=day))


async def list_clients(session: AsyncSession, organisation_id: int, after_id: int,
                       limit: int) -> list[Client]:
    """Clients in id order after ``after_id``: new clients come last, pages never shift."""
    rows = await session.scalars(
        select(Client).where(Client.organisation_id == organisation_id, Client.id > after_id)
        .order_by(Client.id).limit(limit))
    return list(rows)


async def contacts_of(session: AsyncSession, organisation_id: int, client_ids: list[int]
                      ) -> dict[int, list[ClientContact]]:
    found: dict[int, list[ClientContact]] = {client_id: [] for client_id in client_ids}
    rows = await session.scalars(
        select(ClientContact).where(ClientContact.organisation_id == organisation_id,
                                    ClientContact.client_id.in_(client_ids))
        .order_by(ClientContact.id))
    for contact in rows:
        found[contact.client_id].append(contact)
    return found


async def team_names(session: AsyncSession, organisation_id: int) -> dict[int, str]:
    rows = await session.execute(
        select(Team.id, Team.name).where(Team.organisation_id == organisation_id))
    return {team_id: name for team_id, name in rows}


def contact_json(contact: ClientContact) -> dict[str, Any]:
    return {"id": contact.id, "name": contact.name, "relation": contact.relation,
            "email": contact.email, "phone": contact.phone,
            "whatsapp_id": contact.whatsapp_id, "verified": contact.verified}


def contact_data(contact: ClientContact) -> ContactData:
    return ContactData(name=contact.name, relation=contact.relation, email=contact.email,
                       phone=contact.phone, whatsapp_id=contact.whatsapp_id)


def client_json(client: Client, teams: dict[int, str], contacts: list[ClientContact]
                ) -> dict[str, Any]:
    return {
        "client_number": client.client_number, "given_name": client.given_name,
        "family_name": client.family_name,
        "date_of_birth": client.date_of_birth.isoformat() if client.date_of_birth else None,
        "team": teams.get(client.team_id) if client.team_id else None,
        "status": client.status, "notes": client.notes,
        "contacts": [contact_json(contact) for contact in contacts],
        "created_at": client.created_at.isoformat(),
        "updated_at": client.updated_at.isoformat() if client.updated_at else None,
    }
