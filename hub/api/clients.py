"""``/api/v1/clients``: create, change, look up and list client records.

Each handler: authenticate, one call into ``hub.records.clients``, an audit record per
client touched (NEN 7513: who, which client, what, when, from where; a listed page writes
all of its lines in one ``record_many``), JSON out.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from hub.api.common import api_call, json_body, json_response
from hub.db.models import Client
from hub.errors import InvalidInput
from hub.records import clients as records
from hub.records.validation import parse_client, parse_client_changes
from hub.security.audit import Event, Line, record, record_many

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(client_id: int) -> str:
    return base64.urlsafe_b64encode(f"c{client_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The id after which the next page starts; the cursor is opaque to callers."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if text.startswith("c") and text[1:].isdigit():
            return int(text[1:])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidInput("ongeldige cursor", fields={"cursor": "ongeldig"})


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidInput("ongeldige limit", fields={"limit": f"een getal van 1 tot {MAX_LIMIT}"})
    return int(raw)


async def list_clients(request: Request) -> Response:
    async with api_call(request) as (session, who):
        limit = parse_limit(request.query_params.get("limit"))
        after = decode_cursor(request.query_params.get("cursor"))
        org = who.organisation_id
        page = await records.list_clients(session, org, after, limit + 1)
        more, page = len(page) > limit, page[:limit]
        contacts = await records.contacts_of(session, org, [c.id for c in page])
        teams = await records.team_names(session, org)
        # one line per client read, written at once (a 200-client page, one INSERT)
        await record_many(session, who, [
            Line(Event.READ, client_id=c.id, object_ref=f"client:{c.id}", detail="api: lijst")
            for c in page])
    return json_response({
        "clients": [records.client_json(c, teams, contacts[c.id]) for c in page],
        "next_cursor": encode_cursor(page[-1].id) if more else None,
    })


async def create_client(request: Request) -> Response:
    async with api_call(request) as (session, who):
        data = parse_client(await json_body(request))
        client = await records.create_client(session, who.organisation_id, data)
        await record(session, who, Event.CREATE, client_id=client.id,
                     object_ref=f"client:{client.id}", detail="api")
        body = await _client_body(session, client)
    location = f"/api/v1/clients/{client.client_number}"
    return json_response(body, 201, location=location)


async def get_client(request: Request) -> Response:
    async with api_call(request) as (session, who):
        client = await records.get_client(session, who.organisation_id,
                                          request.path_params["number"])
        await record(session, who, Event.READ, client_id=client.id,
                     object_ref=f"client:{client.id}", detail="api")
        body = await _client_body(session, client)
    return json_response(body)


async def update_client(request: Request) -> Response:
    async with api_call(request) as (session, who):
        changes = parse_client_changes(await json_body(request))
        client = await records.get_client(session, who.organisation_id,
                                          request.path_params["number"])
        changed = await records.change_client(session, client, changes)
        await record(session, who, Event.CHANGE, client_id=client.id,
                     object_ref=f"client:{client.id}",
                     detail=f"api: {', '.join(changed) or 'niets gewijzigd'}")
        body = await _client_body(session, client)
    return json_response(body)


async def _client_body(session: AsyncSession, client: Client) -> dict[str, Any]:
    org = client.organisation_id
    contacts = await records.contacts_of(session, org, [client.id])
    return records.client_json(client, await records.team_names(session, org),
                               contacts[client.id])
