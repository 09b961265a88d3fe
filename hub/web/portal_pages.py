"""The client portal: who looked at my record, my account (conversations: ``portal_chat``).

A portal user sees only portal conversations of the clients they are linked to
(``hub.security.access``), never internal notes. Each read is audited, on behalf of the
client the user is linked to (their relation is the "on whose behalf" of NEN 7513).
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from hub.db.engine import transaction
from hub.db.models import AuditRecord, Client, PortalLink, PortalUser
from hub.security import audit
from hub.security.guards import hub_of
from hub.security.policy import principal_of
from hub.security.principal import Principal
from hub.web.templates import render

ACCESS_LOG_ROWS = 200
# what a client is shown of the log: people reading or changing their record
_SHOWN_EVENTS = ("read", "search", "create", "change", "export", "emergency_access")


async def linked_clients(db: AsyncSession, who: Principal) -> list[tuple[Client, str]]:
    rows = await db.execute(select(Client, PortalLink.relation).join(
        PortalLink, PortalLink.client_id == Client.id).where(
        PortalLink.organisation_id == who.organisation_id,
        PortalLink.portal_user_id == who.user_id, Client.organisation_id == who.organisation_id,
    ).order_by(Client.id))
    return [(client, relation) for client, relation in rows]


def on_behalf(who: Principal, relation: str, client: Client) -> Principal:
    return dataclasses.replace(who, on_behalf_of=f"{relation}: cliënt {client.client_number}")


async def access_log(request: Request) -> Response:
    """Who looked at my record and when: names and roles, not addresses."""
    who = principal_of(request)
    async with transaction(hub_of(request).sessions) as db:
        clients = await linked_clients(db, who)
        ids = [client.id for client, _ in clients]
        rows = list(await db.scalars(select(AuditRecord).where(
            AuditRecord.organisation_id == who.organisation_id,
            AuditRecord.client_id.in_(ids), AuditRecord.event.in_(_SHOWN_EVENTS),
            AuditRecord.outcome == "success",
            ~((AuditRecord.user_type == "portal") & (AuditRecord.user_id == who.user_id)),
        ).order_by(AuditRecord.id.desc()).limit(ACCESS_LOG_ROWS)))
        for client, relation in clients:
            await audit.record(db, on_behalf(who, relation, client), audit.Event.READ,
                               client_id=client.id, object_ref="access-log")
    names = {client.id: client.full_name for client, _ in clients}
    return render(request, "portal/access_log.html", {"rows": rows, "names": names})


async def account(request: Request) -> Response:
    who = principal_of(request)
    async with hub_of(request).sessions() as db:
        user = await db.get(PortalUser, who.user_id)
        clients = await linked_clients(db, who)
    assert user is not None
    return render(request, "portal/account.html", {
        "user": user, "clients": clients, "error": request.query_params.get("error", "")})
