"""Rooms and their members: direct messages, team rooms and group rooms.

Admins and coordinators create team and group rooms and change group members; any staff
member opens a direct room with a colleague. A membership change is announced on
``access_channel`` after commit, so every web process re-checks the sockets concerned
and a removed member stops receiving at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.chat.access import can_manage, member_room, membership, my_rooms
from hub.db.models import ChatMessage, Room, RoomMember, Staff, Team
from hub.db.models.chat import RoomKind
from hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from hub.events import emit
from hub.realtime.topics import access_channel
from hub.security.principal import Principal

MAX_NAME = 120


def _require_manager(who: Principal) -> None:
    if not can_manage(who):
        raise Forbidden("Alleen een beheerder of coördinator kan dit.")


async def _staff_in_org(session: AsyncSession, org: int, staff_ids: set[int]) -> set[int]:
    if not staff_ids:
        return set()
    found = await session.scalars(select(Staff.id).where(
        Staff.id.in_(staff_ids), Staff.organisation_id == org, Staff.active.is_(True)))
    return {int(i) for i in found.all()}


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"Een kamer heeft een naam van 1 tot {MAX_NAME} tekens.")
    return name


async def create_group_room(session: AsyncSession, who: Principal, name: str,
                            staff_ids: set[int]) -> Room:
    """A room with chosen members; the creator is always one of them."""
    _require_manager(who)
    assert who.user_id is not None
    members = await _staff_in_org(session, who.organisation_id, staff_ids | {who.user_id})
    room = Room(organisation_id=who.organisation_id, kind=RoomKind.GROUP.value,
                name=_clean_name(name), created_by_id=who.user_id)
    session.add(room)
    await session.flush()
    for staff_id in sorted(members):
        session.add(RoomMember(organisation_id=who.organisation_id, room_id=room.id,
                               staff_id=staff_id))
    await session.flush()
    return room


async def create_team_room(session: AsyncSession, who: Principal, team_id: int,
                           name: str = "") -> Room:
    """The room of a team: its members are the team's members, now and later."""
    _require_manager(who)
    team = await session.scalar(select(Team).where(
        Team.id == team_id, Team.organisation_id == who.organisation_id))
    if team is None:
        raise NotFound("Dit team bestaat niet.", team_id=team_id)
    room = Room(organisation_id=who.organisation_id, kind=RoomKind.TEAM.value,
                name=_clean_name(name or team.name), team_id=team.id,
                created_by_id=who.user_id)
    session.add(room)
    await session.flush()
    return room


async def direct_room(session: AsyncSession, who: Principal, other_staff_id: int) -> Room:
    """The one direct room of two colleagues, created on first use."""
    if who.kind != "staff" or who.user_id is None or other_staff_id == who.user_id:
        raise InvalidInput("Een direct gesprek is met één andere collega.")
    if not await _staff_in_org(session, who.organisation_id, {other_staff_id}):
        raise NotFound("Deze collega bestaat niet.", staff_id=other_staff_id)
    low, high = sorted((who.user_id, other_staff_id))
    key = f"{low}:{high}"
    room = await _direct_by_key(session, who.organisation_id, key)
    if room is not None:
        return room
    try:
        async with session.begin_nested():
            room = await _insert_direct(session, who, key, (low, high))
    except IntegrityError:
        room = await _direct_by_key(session, who.organisation_id, key)
        if room is None:
            raise
    return room


async def _direct_by_key(session: AsyncSession, org: int, key: str) -> Room | None:
    room: Room | None = await session.scalar(select(Room).where(
        Room.organisation_id == org, Room.direct_key == key))
    return room


async def _insert_direct(session: AsyncSession, who: Principal, key: str,
                         pair: tuple[int, int]) -> Room:
    room = Room(organisation_id=who.organisation_id, kind=RoomKind.DIRECT.value,
                direct_key=key, created_by_id=who.user_id)
    session.add(room)
    await session.flush()
    for staff_id in pair:
        session.add(RoomMember(organisation_id=who.organisation_id, room_id=room.id,
                               staff_id=staff_id))
    await session.flush()
    return room


async def _group_room(session: AsyncSession, who: Principal, room_id: int) -> Room:
    _require_manager(who)
    room = await session.scalar(select(Room).where(
        Room.id == room_id, Room.organisation_id == who.organisation_id))
    if room is None:
        raise NotFound("Deze kamer bestaat niet.", room_id=room_id)
    if room.kind != RoomKind.GROUP.value:
        raise Conflict("Leden van een team- of directe kamer volgen het team of het gesprek.")
    return room


async def add_members(session: AsyncSession, who: Principal, room_id: int,
                      staff_ids: set[int]) -> set[int]:
    """Add colleagues to a group room; returns who was added."""
    room = await _group_room(session, who, room_id)
    present = set((await session.scalars(select(RoomMember.staff_id).where(
        RoomMember.room_id == room.id))).all())
    added = await _staff_in_org(session, who.organisation_id, staff_ids) - present
    for staff_id in sorted(added):
        session.add(RoomMember(organisation_id=who.organisation_id, room_id=room.id,
                               staff_id=staff_id))
    await session.flush()
    if added:
        announce_access(session, who.organisation_id, room_id=room.id, staff_ids=added)
    return added


async def remove_member(session: AsyncSession, who: Principal, room_id: int,
                        staff_id: int) -> bool:
    """Take a colleague out of a group room; their sockets stop receiving at once."""
    room = await _group_room(session, who, room_id)
    row = await session.scalar(select(RoomMember).where(
        RoomMember.room_id == room.id, RoomMember.staff_id == staff_id))
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    announce_access(session, who.organisation_id, room_id=room.id, staff_ids={staff_id})
    return True


def announce_access(session: AsyncSession, organisation_id: int, *,
                    room_id: int | None = None, staff_ids: set[int] | None = None) -> None:
    """After commit, tell every web process to re-check the sockets concerned."""
    payload: dict[str, Any] = {"type": "access_changed"}
    if room_id is not None:
        payload["room_id"] = room_id
    if staff_ids:
        payload["staff_ids"] = sorted(staff_ids)
    emit(session, access_channel(organisation_id), payload)


async def list_rooms(session: AsyncSession, who: Principal) -> list[dict[str, Any]]:
    """The rooms ``who`` is in, newest activity first, with unread and mention counts."""
    rooms = (await session.scalars(select(Room).where(membership(who)).order_by(
        Room.last_message_at.desc().nulls_last(), Room.id.desc()))).all()
    counts = await unread_counts(session, who)
    names = await _direct_names(session, who, [r for r in rooms if r.kind == "direct"])
    return [room_payload(r, names.get(r.id, r.name), counts.get(r.id, (0, 0))) for r in rooms]


def room_payload(room: Room, name: str, counts: tuple[int, int]) -> dict[str, Any]:
    return {
        "id": room.id, "stream": f"room:{room.id}", "kind": room.kind, "name": name,
        "team_id": room.team_id, "last_seq": room.last_seq, "archived": room.archived,
        "last_message_at": room.last_message_at.isoformat() if room.last_message_at else None,
        "unread": counts[0], "mentions": counts[1],
    }


async def _direct_names(session: AsyncSession, who: Principal,
                        rooms: list[Room]) -> dict[int, str]:
    """A direct room is named after the other person."""
    if not rooms:
        return {}
    rows = await session.execute(
        select(RoomMember.room_id, Staff.name).join(Staff, Staff.id == RoomMember.staff_id)
        .where(RoomMember.room_id.in_([r.id for r in rooms]),
               RoomMember.staff_id != who.user_id))
    return {int(room_id): str(name) for room_id, name in rows.all()}


async def unread_counts(session: AsyncSession, who: Principal) -> dict[int, tuple[int, int]]:
    """room id -> (unread messages from others, of which mention ``who``)."""
    read = (select(RoomMember.room_id, RoomMember.last_read_seq)
            .where(RoomMember.staff_id == who.user_id).subquery())
    last_read = func.coalesce(read.c.last_read_seq, 0)
    unread = (select(ChatMessage.room_id, ChatMessage.mentions)
              .outerjoin(read, read.c.room_id == ChatMessage.room_id)
              .where(ChatMessage.room_id.in_(my_rooms(who)), ChatMessage.seq > last_read,
                     ChatMessage.deleted_at.is_(None),
                     ChatMessage.sender_staff_id.is_distinct_from(who.user_id))
              .limit(10_000))
    counts: dict[int, tuple[int, int]] = {}
    for room_id, mentions in (await session.execute(unread)).all():
        total, mentioned = counts.get(room_id, (0, 0))
        counts[room_id] = (total + 1, mentioned + int(who.user_id in (mentions or [])))
    return counts


async def room_for(session: AsyncSession, who: Principal, room_id: int) -> Room:
    room = await member_room(session, who, room_id)
    if room is None:
        raise Forbidden("U bent geen lid van deze kamer.", room_id=room_id)
    return room


async def members_payload(session: AsyncSession, room: Room) -> list[dict[str, Any]]:
    from hub.chat.access import member_ids_query

    ids = member_ids_query(room).subquery()
    rows = await session.execute(
        select(Staff.id, Staff.name, RoomMember.last_read_seq)
        .outerjoin(RoomMember, and_(RoomMember.room_id == room.id,
                                    RoomMember.staff_id == Staff.id))
        .where(Staff.id.in_(select(ids.c[0]))).order_by(Staff.name))
    return [{"id": i, "name": n, "last_read_seq": s or 0} for i, n, s in rows.all()]
