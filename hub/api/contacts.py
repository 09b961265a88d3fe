"""``/api/v1/clients/{number}/contacts``: the ways to reach a client and those around them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from hub.api.common import api_call, json_body, json_response
from hub.db.models import Client, ClientContact
from hub.errors import NotFound
from hub.records import clients as records
from hub.records.validation import apply_contact_changes, parse_contact
from hub.security.audit import Event, record
from hub.security.principal import Principal


async def _contact(session: AsyncSession, client: Client, contact_id: int) -> ClientContact:
    contact = await session.scalar(select(ClientContact).where(
        ClientContact.organisation_id == client.organisation_id,
        ClientContact.client_id == client.id, ClientContact.id == contact_id))
    if contact is None:
        raise NotFound("onbekend contact", contact_id=contact_id)
    return contact


async def _client(session: AsyncSession, who: Principal, request: Request) -> Client:
    return await records.get_client(session, who.organisation_id,
                                    request.path_params["number"])


async def list_contacts(request: Request) -> Response:
    async with api_call(request) as (session, who):
        client = await _client(session, who, request)
        found = await records.contacts_of(session, who.organisation_id, [client.id])
        await record(session, who, Event.READ, client_id=client.id,
                     object_ref=f"client:{client.id}", detail="api: contacten")
    return json_response({"contacts": [records.contact_json(c) for c in found[client.id]]})


async def add_contact(request: Request) -> Response:
    async with api_call(request) as (session, who):
        data = parse_contact(await json_body(request))
        client = await _client(session, who, request)
        if data.relation == "self" and not data.name:
            data.name = client.full_name
        contact = records.new_contact(client, data)
        session.add(contact)
        await session.flush()
        await record(session, who, Event.CREATE, client_id=client.id,
                     object_ref=f"contact:{contact.id}", detail="api")
    return json_response(records.contact_json(contact), 201)


async def update_contact(request: Request) -> Response:
    async with api_call(request) as (session, who):
        raw = await json_body(request)
        client = await _client(session, who, request)
        contact = await _contact(session, client, request.path_params["contact_id"])
        merged = apply_contact_changes(records.contact_data(contact), raw)
        changed = [k for k, v in vars(merged).items() if getattr(contact, k) != v]
        for name in changed:
            setattr(contact, name, getattr(merged, name))
        await session.flush()
        await record(session, who, Event.CHANGE, client_id=client.id,
                     object_ref=f"contact:{contact.id}",
                     detail=f"api: {', '.join(changed) or 'niets gewijzigd'}")
    return json_response(records.contact_json(contact))


async def delete_contact(request: Request) -> Response:
    async with api_call(request) as (session, who):
        client = await _client(session, who, request)
        contact = await _contact(session, client, request.path_params["contact_id"])
        await session.delete(contact)
        await record(session, who, Event.DELETE, client_id=client.id,
                     object_ref=f"contact:{contact.id}", detail="api")
    return Response(status_code=204)
