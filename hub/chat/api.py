"""JSON API for staff chat rooms under ``/api/v1/rooms`` (session cookie + CSRF token).

Live messages go over the websocket; this API lists rooms with unread counts, creates
rooms, changes members, pages back through history and searches.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute

from hub.api.common import json_body
from hub.chat import rooms
from hub.chat.messages import chat_payload
from hub.chat.search import search_chat
from hub.db.models import ChatMessage, Staff
from hub.errors import InvalidInput
from hub.events import unit_of_work
from hub.resources import Resources
from hub.security.policy import API_STAFF, COORDINATOR, Access, SecureRoute, principal_of

HISTORY_PAGE = 50


def _ids(data: dict[str, Any], field: str) -> set[int]:
    value = data.get(field, [])
    if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
        raise InvalidInput(f"{field} moet een lijst van ids zijn", fields={field: "ids"})
    return set(value)


def _required_int(request: Request, name: str) -> int:
    if name not in request.query_params:
        raise InvalidInput(f"{name} ontbreekt", fields={name: "verplicht"})
    return _int_param(request, name, 0)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    try:
        return default if raw is None else int(raw)
    except ValueError:
        raise InvalidInput(f"{name} moet een getal zijn", fields={name: "getal"}) from None


async def list_rooms(request: Request) -> JSONResponse:
    hub: Resources = request.state.hub
    async with hub.sessions() as db:
        return JSONResponse({"rooms": await rooms.list_rooms(db, principal_of(request))})


async def create_room(request: Request) -> JSONResponse:
    hub: Resources = request.state.hub
    data = await json_body(request)
    who = principal_of(request)
    async with unit_of_work(hub.sessions, hub.events) as db:
        if isinstance(data.get("team_id"), int):
            room = await rooms.create_team_room(db, who, data["team_id"],
                                                str(data.get("name") or ""))
        else:
            room = await rooms.create_group_room(db, who, str(data.get("name") or ""),
                                                 _ids(data, "staff_ids"))
        payload = rooms.room_payload(room, room.name, (0, 0))
    return JSONResponse(payload, status_code=201)


async def open_direct(request: Request) -> JSONResponse:
    hub: Resources = request.state.hub
    data = await json_body(request)
    if not isinstance(data.get("staff_id"), int):
        raise InvalidInput("staff_id ontbreekt", fields={"staff_id": "verplicht"})
    async with unit_of_work(hub.sessions, hub.events) as db:
        room = await rooms.direct_room(db, principal_of(request), data["staff_id"])
        payload = rooms.room_payload(room, room.name, (0, 0))
    return JSONResponse(payload)


async def history(request: Request) -> JSONResponse:
    """Messages before ``before`` (default: the newest), oldest first."""
    hub: Resources = request.state.hub
    room_id = _required_int(request, "room_id")
    before = _int_param(request, "before", 2**31 - 1)
    limit = min(max(_int_param(request, "limit", HISTORY_PAGE), 1), 200)
    async with hub.sessions() as db:
        room = await rooms.room_for(db, principal_of(request), room_id)
        rows = (await db.execute(
            select(ChatMessage, Staff.name)
            .outerjoin(Staff, Staff.id == ChatMessage.sender_staff_id)
            .where(ChatMessage.room_id == room.id, ChatMessage.seq < before)
            .order_by(ChatMessage.seq.desc()).limit(limit))).all()
    messages = [chat_payload(m, name or "") for m, name in reversed(rows)]
    return JSONResponse({"room_id": room.id, "last_seq": room.last_seq, "messages": messages})


async def members(request: Request) -> JSONResponse:
    hub: Resources = request.state.hub
    async with hub.sessions() as db:
        room = await rooms.room_for(db, principal_of(request), _required_int(request, "room_id"))
        return JSONResponse({"members": await rooms.members_payload(db, room)})


async def change_members(request: Request) -> JSONResponse:
    """``{"room_id": 1, "add": [staff ids], "remove": [staff ids]}`` for a group room."""
    hub: Resources = request.state.hub
    data = await json_body(request)
    if not isinstance(data.get("room_id"), int):
        raise InvalidInput("room_id ontbreekt", fields={"room_id": "verplicht"})
    who, room_id = principal_of(request), data["room_id"]
    async with unit_of_work(hub.sessions, hub.events) as db:
        added = await rooms.add_members(db, who, room_id, _ids(data, "add"))
        removed = [staff_id for staff_id in sorted(_ids(data, "remove"))
                   if await rooms.remove_member(db, who, room_id, staff_id)]
    return JSONResponse({"added": sorted(added), "removed": removed})


async def search(request: Request) -> JSONResponse:
    hub: Resources = request.state.hub
    async with hub.sessions() as db:
        hits = await search_chat(db, principal_of(request), request.query_params.get("q", ""))
    return JSONResponse({"hits": hits})


def routes() -> list[BaseRoute]:
    """Listed in the app before the ``/api/v1`` mount, which would catch these paths.

    The room is a query or body parameter, not a path parameter: membership is checked
    by the chat rules (``hub.chat.access``), with a 403 for non-members.
    """
    def route(path: str, endpoint: Any, method: str, access: Access = API_STAFF) -> BaseRoute:
        return SecureRoute(f"/api/v1/rooms{path}", endpoint, access=access, methods=[method])

    return [
        route("", list_rooms, "GET"),
        route("", create_room, "POST", COORDINATOR),
        route("/direct", open_direct, "POST"),
        route("/search", search, "GET"),
        route("/messages", history, "GET"),
        route("/members", members, "GET"),
        route("/members", change_members, "POST", COORDINATOR),
    ]
