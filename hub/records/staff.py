"""Accounts made from the command line: the first admin, and API tokens for an ECD."""

from __future__ import annotations

from sqlalchemy import select

from hub.db.engine import transaction
from hub.db.models import Staff
from hub.db.models.org import Role
from hub.errors import Conflict, InvalidInput
from hub.records.db import command_database, ensure_organisation, find_organisation
from hub.records.normalise import FieldProblem, clean_text, normalise_email
from hub.security.passwords import hash_password, password_problem
from hub.security.tokens import create_token
from hub.settings import Settings


def login_email(raw: str) -> str:
    """A staff login name: a valid address, wholly lower-case so logins ignore case."""
    try:
        return normalise_email(raw).lower()
    except FieldProblem as exc:
        raise InvalidInput(str(exc), fields={"email": str(exc)}) from None


def _checked(email: str, name: str, password: str) -> tuple[str, str]:
    problem = password_problem(password)
    if problem:
        raise InvalidInput(problem, fields={"password": problem})
    try:
        clean_name = clean_text(name, limit=200, required=True)
    except FieldProblem as exc:
        raise InvalidInput(f"naam {exc}", fields={"name": str(exc)}) from None
    return login_email(email), clean_name


async def create_admin(settings: Settings, org_slug: str, email: str, name: str,
                       password: str) -> int:
    """Create an admin (and the organisation when missing); returns the staff id.

    The admin sets up a second factor at first login, like every staff member.
    """
    address, clean_name = _checked(email, name, password)
    async with command_database(settings) as sessions, transaction(sessions) as session:
        org = await ensure_organisation(session, org_slug)
        taken = await session.scalar(select(Staff.id).where(
            Staff.organisation_id == org.id, Staff.email == address))
        if taken is not None:
            raise Conflict(f"er is al een account met e-mailadres {address}", email=address)
        staff = Staff(organisation_id=org.id, email=address, name=clean_name,
                      role=Role.ADMIN.value, password_hash=hash_password(password))
        session.add(staff)
        await session.flush()
        return staff.id


async def issue_api_token(settings: Settings, org_slug: str, name: str) -> str:
    """A new API token for an existing organisation; the plaintext is returned once."""
    try:
        label = clean_text(name, limit=120, required=True)
    except FieldProblem as exc:
        raise InvalidInput(f"naam {exc}", fields={"name": str(exc)}) from None
    async with command_database(settings) as sessions, transaction(sessions) as session:
        org = await find_organisation(session, org_slug)
        return await create_token(session, org.id, label)
