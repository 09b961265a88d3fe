"""Factory functions for synthetic test data (invented Dutch names, .test addresses)."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import (
    CareRelationship,
    Client,
    ClientContact,
    Conversation,
    Mailbox,
    Organisation,
    PortalLink,
    PortalUser,
    Staff,
    Team,
    TeamMembership,
)

_counter = itertools.count(1)


def _n() -> int:
    return next(_counter)


async def make_org(session: AsyncSession, **fields: Any) -> Organisation:
    n = _n()
    org = Organisation(slug=fields.pop("slug", f"org{n}"),
                       name=fields.pop("name", f"Thuiszorg De Linde {n}"), **fields)
    session.add(org)
    await session.flush()
    return org


async def make_team(session: AsyncSession, org: Organisation, **fields: Any) -> Team:
    team = Team(organisation_id=org.id, name=fields.pop("name", f"Team Noord {_n()}"), **fields)
    session.add(team)
    await session.flush()
    return team


async def make_staff(
    session: AsyncSession, org: Organisation, *, team: Team | None = None,
    coordinator_of_team: bool = False, **fields: Any,
) -> Staff:
    n = _n()
    staff = Staff(organisation_id=org.id, email=fields.pop("email", f"medewerker{n}@zorg.test"),
                  name=fields.pop("name", f"Sanne de Vries {n}"), **fields)
    session.add(staff)
    await session.flush()
    if team is not None:
        session.add(TeamMembership(organisation_id=org.id, team_id=team.id, staff_id=staff.id,
                                   is_coordinator=coordinator_of_team))
        await session.flush()
    return staff


async def make_client(
    session: AsyncSession, org: Organisation, *, team: Team | None = None,
    caseload_of: Staff | None = None, **fields: Any,
) -> Client:
    n = _n()
    client = Client(
        organisation_id=org.id, client_number=fields.pop("client_number", f"C{n:05d}"),
        given_name=fields.pop("given_name", "Henk"),
        family_name=fields.pop("family_name", f"Jansen{n}"),
        date_of_birth=fields.pop("date_of_birth", dt.date(1940, 3, 1)),
        team_id=team.id if team else None, **fields,
    )
    session.add(client)
    await session.flush()
    if caseload_of is not None:
        session.add(CareRelationship(organisation_id=org.id, client_id=client.id,
                                     staff_id=caseload_of.id))
    if team is not None:
        session.add(CareRelationship(organisation_id=org.id, client_id=client.id,
                                     team_id=team.id))
    await session.flush()
    return client


async def make_contact(session: AsyncSession, client: Client, **fields: Any) -> ClientContact:
    contact = ClientContact(organisation_id=client.organisation_id, client_id=client.id,
                            name=fields.pop("name", client.full_name), **fields)
    session.add(contact)
    await session.flush()
    return contact


async def make_conversation(
    session: AsyncSession, org: Organisation, *, client: Client | None = None, **fields: Any,
) -> Conversation:
    conversation = Conversation(
        organisation_id=org.id, client_id=client.id if client else None,
        channel=fields.pop("channel", "email"), subject=fields.pop("subject", "Vraag"),
        thread_token=secrets.token_hex(8), **fields,
    )
    session.add(conversation)
    await session.flush()
    return conversation


async def make_portal_user(
    session: AsyncSession, org: Organisation, *, clients: tuple[Client, ...] = (),
    relation: str = "self", **fields: Any,
) -> PortalUser:
    """A portal account, linked to ``clients`` with ``relation``."""
    n = _n()
    user = PortalUser(organisation_id=org.id, email=fields.pop("email", f"portaal{n}@familie.test"),
                      name=fields.pop("name", f"Ingrid Bakker {n}"), **fields)
    session.add(user)
    await session.flush()
    for client in clients:
        session.add(PortalLink(organisation_id=org.id, portal_user_id=user.id,
                               client_id=client.id, relation=relation))
    await session.flush()
    return user


async def make_mailbox(session: AsyncSession, org: Organisation, **fields: Any) -> Mailbox:
    """A shared mailbox; point ``imap_host``/``imap_port``/``imap_user`` at a test server."""
    n = _n()
    mailbox = Mailbox(
        organisation_id=org.id, name=fields.pop("name", f"Zorgteam {n}"),
        address=fields.pop("address", f"zorgteam{n}@zorg.test"),
        imap_host=fields.pop("imap_host", "127.0.0.1"), imap_port=fields.pop("imap_port", 143),
        imap_security=fields.pop("imap_security", "none"),
        imap_user=fields.pop("imap_user", f"zorgteam{n}"),
        imap_password=fields.pop("imap_password", "geheim"), **fields,
    )
    session.add(mailbox)
    await session.flush()
    return mailbox
