"""The staff app's client list, emergency access ("break the glass") and portal invites.

The client record, conversations and the inbox itself are ``hub.web.inbox_pages`` and
``hub.web.conversation_pages``. Each read writes its audit line in the same transaction
as the query.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.db.base import utcnow
from hub.db.engine import transaction
from hub.db.models import Client, EmergencyAccess
from hub.errors import InvalidInput, NotFound
from hub.security import accounts, audit
from hub.security.access import visible_client_ids
from hub.security.guards import hub_of
from hub.security.policy import principal_of
from hub.security.principal import Principal
from hub.web.templates import render

EMERGENCY_HOURS = 1


async def home(request: Request) -> Response:
    who = principal_of(request)
    async with transaction(hub_of(request).sessions) as db:
        clients = list(await db.scalars(
            select(Client).where(Client.organisation_id == who.organisation_id,
                                 Client.id.in_(visible_client_ids(who)))
            .order_by(Client.family_name, Client.given_name).limit(500)))
        await audit.record(db, who, audit.Event.SEARCH, object_ref="client-list",
                           detail=_ids_detail(clients))
        grants = await _my_grants(db, who)
    return render(request, "security/staff_home.html", {"clients": clients, "grants": grants})


def _ids_detail(clients: list[Client]) -> str:
    return f"{len(clients)} cliënten: " + ",".join(str(c.id) for c in clients)


async def _my_grants(db: AsyncSession, who: Principal) -> list[EmergencyAccess]:
    if who.role != "admin":
        return []
    return list(await db.scalars(select(EmergencyAccess).where(
        EmergencyAccess.organisation_id == who.organisation_id,
        EmergencyAccess.staff_id == who.user_id, EmergencyAccess.expires_at > utcnow())))


async def _client(db: AsyncSession, who: Principal, client_id: int) -> Client:
    client = await db.scalar(select(Client).where(
        Client.id == client_id, Client.organisation_id == who.organisation_id))
    if client is None:
        raise NotFound("Dit dossier bestaat niet.")
    return client


async def emergency_access(request: Request) -> Response:
    """Break the glass: an admin opens one client for an hour, with a reason, audited."""
    who = principal_of(request)
    form = await request.form()
    client_id = _form_int(form.get("client_id"))
    reason = str(form.get("reason") or "").strip()
    if len(reason) < 10:
        raise InvalidInput("Geef een reden van minstens tien tekens.", field="reason")
    async with transaction(hub_of(request).sessions) as db:
        client = await _client(db, who, client_id)
        expires = utcnow() + dt.timedelta(hours=EMERGENCY_HOURS)
        line = await audit.record(db, who, audit.Event.EMERGENCY_ACCESS, client_id=client.id,
                                  object_ref=f"client:{client.id}",
                                  detail=f"reden: {reason[:1000]}")
        db.add(EmergencyAccess(organisation_id=who.organisation_id, staff_id=who.user_id,
                               client_id=client.id, reason=reason[:1000], expires_at=expires,
                               audit_record_id=line.id))
    return RedirectResponse(f"/app/clients/{client.id}", status_code=303)


def _form_int(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise InvalidInput("Ongeldig nummer.") from None


async def portal_invite(request: Request) -> Response:
    """Give a client or representative portal access to this client (staff with access)."""
    who = principal_of(request)
    client_id = int(request.path_params["client_id"])
    form = await request.form()
    hub = hub_of(request)
    async with transaction(hub.sessions) as db:
        client = await _client(db, who, client_id)
        user, mail = await accounts.invite_portal_user(
            db, hub.settings, who.organisation_id, client.id, str(form.get("email") or ""),
            str(form.get("name") or ""), str(form.get("relation") or ""))
        await audit.record(db, who, audit.Event.CREATE, client_id=client.id,
                           object_ref=f"portal_user:{user.id}",
                           detail=f"portaaltoegang gegeven ({form.get('relation')})")
    if mail is not None:
        await accounts.send_link(hub.settings, mail)
    return RedirectResponse(f"/app/clients/{client.id}", status_code=303)
