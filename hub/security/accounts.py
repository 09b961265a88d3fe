"""Invitations and password resets: make the link, mail it, set the password.

The link is made in the caller's transaction; the mail goes out after the commit
(``send_link``), so no mail points at a link that was rolled back. The mail names the
organisation and holds the link, never anything about a client (invariant 6).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Organisation, PortalLink, PortalUser, Staff
from hub.db.models.clients import Relation
from hub.db.models.org import Role
from hub.errors import Conflict, InvalidInput
from hub.mail.sender import send_mail
from hub.security import onetime, sessions
from hub.security.onetime import Holder, Purpose
from hub.security.passwords import hash_password, password_problem
from hub.settings import Settings

User = Staff | PortalUser


@dataclasses.dataclass(frozen=True)
class PendingMail:
    """A link to mail once the transaction that made it has committed."""

    to: str
    kind: Literal["staff", "portal"]
    purpose: Purpose
    token: str
    organisation_name: str


def clean_email(raw: str) -> str:
    email = raw.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        raise InvalidInput("Vul een geldig e-mailadres in.", field="email")
    return email


def clean_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name or len(name) > 200:
        raise InvalidInput("Vul een naam in (hoogstens 200 tekens).", field="name")
    return name


async def link_for(db: AsyncSession, settings: Settings, user: User,
                   purpose: Purpose) -> PendingMail:
    kind: Literal["staff", "portal"] = "staff" if isinstance(user, Staff) else "portal"
    token = await onetime.create(db, settings, Holder(kind, user.id, user.organisation_id),
                                 purpose)
    org = await db.get(Organisation, user.organisation_id)
    return PendingMail(user.email, kind, purpose, token, org.name if org else "Zorghub")


async def invite_staff(db: AsyncSession, settings: Settings, organisation_id: int,
                       email: str, name: str, role: str) -> tuple[Staff, PendingMail]:
    if role not in {r.value for r in Role}:
        raise InvalidInput("Onbekende rol.", field="role")
    email, name = clean_email(email), clean_name(name)
    taken = await db.scalar(select(Staff.id).where(
        Staff.organisation_id == organisation_id, func.lower(Staff.email) == email))
    if taken is not None:
        raise Conflict("Er is al een medewerker met dit e-mailadres.", field="email")
    staff = Staff(organisation_id=organisation_id, email=email, name=name, role=role)
    db.add(staff)
    await db.flush()
    return staff, await link_for(db, settings, staff, "invite")


async def invite_portal_user(db: AsyncSession, settings: Settings, organisation_id: int,
                             client_id: int, email: str, name: str,
                             relation: str) -> tuple[PortalUser, PendingMail | None]:
    """Link a (new or existing) portal account to the client; mail an invitation when the
    account has no password yet. An existing account just gains the link."""
    if relation not in {r.value for r in Relation}:
        raise InvalidInput("Onbekende relatie.", field="relation")
    email = clean_email(email)
    user = await db.scalar(select(PortalUser).where(
        PortalUser.organisation_id == organisation_id, func.lower(PortalUser.email) == email))
    if user is None:
        user = PortalUser(organisation_id=organisation_id, email=email, name=clean_name(name))
        db.add(user)
        await db.flush()
    await _link(db, user, client_id, relation)
    if user.password_hash:
        return user, None
    return user, await link_for(db, settings, user, "invite")


async def _link(db: AsyncSession, user: PortalUser, client_id: int, relation: str) -> None:
    link = await db.scalar(select(PortalLink).where(
        PortalLink.portal_user_id == user.id, PortalLink.client_id == client_id))
    if link is None:
        db.add(PortalLink(organisation_id=user.organisation_id, portal_user_id=user.id,
                          client_id=client_id, relation=relation))
    else:
        link.relation = relation
    await db.flush()


async def set_password(db: AsyncSession, user: User, password: str, repeat: str) -> None:
    """Set a new password; every session of the user ends (a reset may follow a theft)."""
    if password != repeat:
        raise InvalidInput("De twee wachtwoorden zijn niet gelijk.", field="password")
    problem = password_problem(password)
    if problem:
        raise InvalidInput(problem, field="password")
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    kind: sessions.SessionKind = "staff" if isinstance(user, Staff) else "portal"
    await sessions.revoke_all(db, kind, user.id)


_SUBJECTS = {
    "invite": "Uitnodiging voor Zorghub",
    "reset": "Nieuw wachtwoord voor Zorghub",
}
_BODIES = {
    "invite": "U bent uitgenodigd voor Zorghub van {org}.\n\nKies via deze link een "
              "wachtwoord:\n{url}\n\nDe link werkt {hours} uur en één keer.\n",
    "reset": "Er is gevraagd om een nieuw wachtwoord voor uw Zorghub-account bij {org}.\n\n"
             "Kies via deze link een nieuw wachtwoord:\n{url}\n\nDe link werkt {hours} uur "
             "en één keer. Heeft u dit niet gevraagd? Dan kunt u deze e-mail negeren.\n",
}


def link_url(settings: Settings, mail: PendingMail) -> str:
    prefix = "/portal" if mail.kind == "portal" else ""
    path = "invite" if mail.purpose == "invite" else "password/reset"
    return f"{settings.base_url.rstrip('/')}{prefix}/{path}/{mail.token}"


async def send_link(settings: Settings, mail: PendingMail) -> bool:
    body = _BODIES[mail.purpose].format(org=mail.organisation_name,
                                        hours=settings.invite_valid_hours,
                                        url=link_url(settings, mail))
    return await send_mail(settings, mail.to, _SUBJECTS[mail.purpose], body)
