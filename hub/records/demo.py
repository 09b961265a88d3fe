"""``hub demo``: the demo organisation "Zorggroep De Linde", and the logins to try it.

Idempotent: everything is made in one transaction that also marks the organisation as
seeded; a second run sees the mark, changes nothing and prints the same logins. The
people are fixed (``demo_data``); shifts and message times follow the day of seeding.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.base import utcnow
from hub.db.models import (
    CareRelationship,
    Client,
    Organisation,
    PortalLink,
    PortalUser,
    Shift,
    Staff,
    Team,
    TeamMembership,
)
from hub.records import demo_data as data
from hub.records.clients import add_client, ensure_team
from hub.records.db import command_database, ensure_organisation
from hub.records.demo_chats import seed_conversations
from hub.records.demo_rooms import seed_rooms
from hub.records.validation import parse_client
from hub.security.passwords import hash_password
from hub.settings import Settings

MARKER = "demo_seeded"
LOCAL = ZoneInfo("Europe/Amsterdam")
# (label, start hour, end hour) in local time
SHIFT_TIMES = (("Vroege dienst", 7, 15), ("Late dienst", 15, 23))


@dataclasses.dataclass(frozen=True)
class Login:
    role: str
    name: str
    email: str
    password: str
    portal: bool = False


@dataclasses.dataclass
class Seeded:
    """What the later steps of seeding need to find again."""

    org: Organisation
    teams: list[Team]
    staff: dict[str, Staff]
    clients: list[Client]
    portal_users: list[PortalUser]


async def seed_demo(settings: Settings) -> list[Login]:
    async with command_database(settings) as sessions, sessions() as session:
        async with session.begin():
            org = await ensure_organisation(session, settings.default_org_slug, data.ORG_NAME)
            if not org.settings.get(MARKER):
                await _seed(session, org)
                org.name = data.ORG_NAME
                org.settings = {**org.settings, MARKER: 1}
        # The events the message store emitted are dropped with this session on purpose:
        # no one can be listening to an organisation that did not exist a moment ago,
        # and the database (the source of truth) has every message with its sequence.
    return logins()


async def _seed(session: AsyncSession, org: Organisation) -> None:
    teams = [await ensure_team(session, org.id, name) for name in data.TEAMS]
    # one hash for all demo accounts: they share the printed password anyway
    password_hash = hash_password(data.PASSWORD)
    staff = {s.email: await _staff(session, org, s, teams, password_hash) for s in data.STAFF}
    clients = [await _client(session, org, c, teams) for c in data.CLIENTS]
    seeded = Seeded(org, teams, staff, clients, [])
    _caseloads(session, seeded)
    seeded.portal_users = await _portal_users(session, seeded, password_hash)
    _shifts(session, seeded, utcnow())
    await seed_conversations(session, seeded, utcnow())
    await seed_rooms(session, seeded)


async def _staff(session: AsyncSession, org: Organisation, person: data.DemoStaff,
                 teams: list[Team], password_hash: str) -> Staff:
    staff = await session.scalar(select(Staff).where(
        Staff.organisation_id == org.id, Staff.email == person.email))
    if staff is None:
        staff = Staff(organisation_id=org.id, email=person.email, name=person.name,
                      role=person.role, is_privacy_officer=person.privacy_officer,
                      phone=person.phone, qualifications=list(person.qualifications),
                      password_hash=password_hash)
        session.add(staff)
        await session.flush()
    if person.team is not None:
        session.add(TeamMembership(organisation_id=org.id, team_id=teams[person.team].id,
                                   staff_id=staff.id,
                                   is_coordinator=person.role == "coordinator"))
    return staff


async def _client(session: AsyncSession, org: Organisation, person: data.DemoClient,
                  teams: list[Team]) -> Client:
    # through the same checks as the API and the importer: the demo data must pass them
    checked = parse_client({
        "client_number": person.number, "given_name": person.given_name,
        "family_name": person.family_name, "date_of_birth": person.born.isoformat(),
        "status": person.status,
        "contacts": [{"name": c.name, "relation": c.relation, "email": c.email,
                      "phone": c.phone, "whatsapp_id": c.phone if c.whatsapp else None}
                     for c in person.contacts],
    })
    return await add_client(session, org.id, checked, teams[person.team])


def team_members(seeded: Seeded, team: int, coordinators: bool = False) -> list[Staff]:
    return [seeded.staff[s.email] for s in data.STAFF
            if s.team == team and (coordinators or s.role == "staff")]


def _caseloads(session: AsyncSession, seeded: Seeded) -> None:
    """Each client also on the personal caseload of one carer of their team."""
    for i, (person, client) in enumerate(zip(data.CLIENTS, seeded.clients, strict=True)):
        carers = team_members(seeded, person.team)
        session.add(CareRelationship(organisation_id=seeded.org.id, client_id=client.id,
                                     staff_id=carers[i // 2 % len(carers)].id,
                                     starts_on=utcnow().date()))


async def _portal_users(session: AsyncSession, seeded: Seeded, password_hash: str
                        ) -> list[PortalUser]:
    users = []
    for person in data.PORTAL_USERS:
        user = PortalUser(organisation_id=seeded.org.id, email=person.email,
                          name=person.name, password_hash=password_hash)
        session.add(user)
        await session.flush()
        session.add(PortalLink(organisation_id=seeded.org.id, portal_user_id=user.id,
                               client_id=seeded.clients[person.client].id,
                               relation=person.relation))
        users.append(user)
    return users


def _shifts(session: AsyncSession, seeded: Seeded, now: dt.datetime) -> None:
    """This week, Monday to Sunday: an early and a late shift per team per day."""
    today = now.astimezone(LOCAL).date()
    monday = today - dt.timedelta(days=today.weekday())
    for team_index, team in enumerate(seeded.teams):
        crew = team_members(seeded, team_index, coordinators=True)
        for day in range(7):
            date = monday + dt.timedelta(days=day)
            for n, (label, start, end) in enumerate(SHIFT_TIMES):
                worker = crew[(day * len(SHIFT_TIMES) + n) % len(crew)]
                session.add(Shift(organisation_id=seeded.org.id, team_id=team.id,
                                  staff_id=worker.id, starts_at=_at(date, start),
                                  ends_at=_at(date, end), description=label))


def _at(date: dt.date, hour: int) -> dt.datetime:
    return dt.datetime(date.year, date.month, date.day, hour, tzinfo=LOCAL).astimezone(dt.UTC)


def logins() -> list[Login]:
    staff = [Login(_role_label(s), s.name, s.email, data.PASSWORD) for s in data.STAFF]
    portal = [Login(_portal_label(p), p.name, p.email, data.PASSWORD, portal=True)
              for p in data.PORTAL_USERS]
    return staff + portal


def _role_label(person: data.DemoStaff) -> str:
    if person.role == "admin":
        return "beheerder (admin)"
    team = data.TEAMS[person.team or 0]
    label = f"coördinator {team}" if person.role == "coordinator" else f"medewerker {team}"
    return label + (", privacyfunctionaris" if person.privacy_officer else "")


def _portal_label(person: data.DemoPortalUser) -> str:
    client = data.CLIENTS[person.client]
    if person.relation == "self":
        return f"portaal: cliënt {client.number}"
    return f"portaal: vertegenwoordiger van {client.full_name} ({client.number})"


def print_logins(logins: list[Login], base_url: str) -> None:
    base = base_url.rstrip("/")
    print(f"Demo-organisatie {data.ORG_NAME} staat klaar.")
    print(f"Medewerkers:  {base}/login")
    print(f"Portaal:      {base}/portal/login")
    print("Medewerkers stellen bij de eerste keer inloggen een tweede factor in "
          "(authenticator-app met TOTP).")
    print("Staff set up a second factor (authenticator app) at their first login.")
    print()
    rows = [("rol", "naam", "e-mail", "wachtwoord")]
    rows += [(login.role, login.name, login.email, login.password) for login in logins]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
              + "  " + row[3])
