"""The staff chat pages: my rooms, one room, and the forms that open or change rooms.

Reads and writes go through ``hub.chat`` (which applies who may do what); a room page
is guarded by the ``ROOM`` policy (members only, a refusal is audited like any other).
Chat is staff to staff and carries no client record, so only refusals are audited, as
the websocket does (``hub.realtime.streams.audit_opened``). The page renders the latest
messages; ``hub/static/chat.js`` then goes live over ``/ws`` from the last sequence
number and pages back through ``/api/v1/rooms/messages``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from hub.chat import rooms
from hub.chat.access import can_manage
from hub.chat.api import HISTORY_PAGE
from hub.chat.messages import chat_payload
from hub.db.engine import transaction
from hub.db.models import ChatMessage, Room, Staff
from hub.db.models.chat import RoomKind
from hub.errors import InvalidInput
from hub.events import unit_of_work
from hub.security.guards import hub_of
from hub.security.policy import COORDINATOR, ROOM, STAFF, SecureRoute, principal_of
from hub.security.principal import Principal
from hub.web import catalogue_chat as _catalogue  # noqa: F401  (registers English)
from hub.web import inbox_forms as forms
from hub.web.templates import format_datetime, render

POST = ["POST"]
# "@Anna" in a message: highlighted (chat.js uses the same pattern)
MENTION = re.compile(r"(@[^\s@]+)")


def mention_parts(body: str) -> list[tuple[str, bool]]:
    """The text in pieces, each marked whether it is an @mention (escaped by the template)."""
    return [(part, bool(MENTION.fullmatch(part))) for part in MENTION.split(body) if part]


def _when(iso: str | None) -> str:
    return format_datetime(dt.datetime.fromisoformat(iso)) if iso else ""


async def _colleagues(db: Any, who: Principal) -> list[tuple[int, str]]:
    """Active staff of the organisation other than ``who``, by name."""
    rows = await db.execute(select(Staff.id, Staff.name).where(
        Staff.organisation_id == who.organisation_id, Staff.active.is_(True),
        Staff.id != who.user_id).order_by(Staff.name))
    return [(int(i), str(n)) for i, n in rows.all()]


async def rooms_page(request: Request) -> Response:
    who = principal_of(request)
    async with transaction(hub_of(request).sessions) as db:
        mine = await rooms.list_rooms(db, who)
        colleagues = await _colleagues(db, who)
    for room in mine:
        room["when"] = _when(room["last_message_at"])
    return render(request, "chat/rooms.html", {
        "rooms": mine, "colleagues": colleagues, "can_manage": can_manage(who)})


async def _latest(db: Any, room: Room) -> list[dict[str, Any]]:
    rows = (await db.execute(
        select(ChatMessage, Staff.name)
        .outerjoin(Staff, Staff.id == ChatMessage.sender_staff_id)
        .where(ChatMessage.room_id == room.id)
        .order_by(ChatMessage.seq.desc()).limit(HISTORY_PAGE))).all()
    messages = [chat_payload(m, name or "") for m, name in reversed(rows)]
    for message in messages:
        message["parts"] = mention_parts(message["body"])
        message["time"] = _when(message["created_at"])[11:]  # HH:MM, Amsterdam time
    return messages


async def _room_name(db: Any, who: Principal, room: Room) -> str:
    if room.kind != RoomKind.DIRECT.value:
        return room.name
    members = await rooms.members_payload(db, room)
    others = [m["name"] for m in members if m["id"] != who.user_id]
    return str(others[0]) if others else room.name


async def room_page(request: Request) -> Response:
    who = principal_of(request)
    room_id = int(request.path_params["room_id"])
    async with transaction(hub_of(request).sessions) as db:
        room = await rooms.room_for(db, who, room_id)
        messages = await _latest(db, room)
        members = await rooms.members_payload(db, room)
        name = await _room_name(db, who, room)
        colleagues = await _colleagues(db, who)
    member_ids = {m["id"] for m in members}
    return render(request, "chat/room.html", {
        "room": room, "name": name, "messages": messages, "members": members,
        "me": who.user_id, "manage": can_manage(who) and room.kind == RoomKind.GROUP.value,
        "candidates": [c for c in colleagues if c[0] not in member_ids],
        "first_seq": messages[0]["seq"] if messages else 0,
        "last_seq": room.last_seq})


def _ids(values: list[Any]) -> set[int]:
    found = set()
    for raw in values:
        if not str(raw).isdigit() or len(str(raw)) > 18:
            raise InvalidInput("Ongeldig nummer in het formulier.", field="staff_ids")
        found.add(int(raw))
    return found


async def open_direct(request: Request) -> Response:
    """The one direct room with a colleague (created on first use), then go there."""
    form = await forms.parse_form(request)
    other = forms.int_field(form, "staff_id")
    hub = hub_of(request)
    async with unit_of_work(hub.sessions, hub.events) as db:
        room = await rooms.direct_room(db, principal_of(request), other)
    return RedirectResponse(f"/app/chat/{room.id}", status_code=303)


async def create_room(request: Request) -> Response:
    """A group room (admins and coordinators; the service checks that too)."""
    form = await forms.parse_form(request)
    members = _ids(form.getlist("staff_ids"))
    hub = hub_of(request)
    async with unit_of_work(hub.sessions, hub.events) as db:
        room = await rooms.create_group_room(db, principal_of(request),
                                             forms.text_field(form, "name"), members)
    return RedirectResponse(f"/app/chat/{room.id}", status_code=303)


async def change_members(request: Request) -> Response:
    """Add or remove colleagues of a group room; the service refuses everyone else."""
    who, room_id = principal_of(request), int(request.path_params["room_id"])
    form = await forms.parse_form(request)
    hub = hub_of(request)
    async with unit_of_work(hub.sessions, hub.events) as db:
        await rooms.add_members(db, who, room_id, _ids(form.getlist("add")))
        for staff_id in sorted(_ids(form.getlist("remove"))):
            await rooms.remove_member(db, who, room_id, staff_id)
    return RedirectResponse(f"/app/chat/{room_id}", status_code=303)


def routes() -> list[BaseRoute]:
    one = "/app/chat/{room_id:int}"
    return [
        SecureRoute("/app/chat", rooms_page, access=STAFF),
        SecureRoute("/app/chat/direct", open_direct, access=STAFF, methods=POST),
        SecureRoute("/app/chat/rooms", create_room, access=COORDINATOR, methods=POST),
        SecureRoute(one, room_page, access=ROOM),
        SecureRoute(f"{one}/members", change_members, access=ROOM, methods=POST),
    ]
