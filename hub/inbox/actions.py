"""What staff do to a conversation: assign, change status, snooze, note, link, read.

Every change that a form makes carries the ``Conversation.version`` the form was drawn
from; the update is conditional on it (``UPDATE ... WHERE version = :seen``), so a stale
form raises ``Conflict`` instead of overwriting what a colleague (or a new inbound
message) changed meanwhile. Each action writes its audit line in the same transaction
and announces the new state on the inbox and conversation channels after commit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.base import utcnow
from hub.db.models import Client, Conversation, Message, ReadMarker, Staff, Team
from hub.db.models.messaging import Channel, ConversationStatus, Direction
from hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from hub.events import emit, enqueue
from hub.inbox.store import NewMessage, store_message
from hub.realtime.topics import conversation_channel, inbox_channel
from hub.security import audit
from hub.security.access import can_see_client, can_see_conversation, conversation_visibility
from hub.security.principal import Principal

MAX_NOTE_CHARS = 10_000
MAX_SNOOZE = dt.timedelta(days=366)
STATUS_CHOICES = tuple(s.value for s in ConversationStatus)


async def load_visible(session: AsyncSession, who: Principal,
                       conversation_id: int) -> Conversation:
    """The conversation if ``who`` may see it; otherwise NotFound (existence not revealed)."""
    conversation = await session.scalar(select(Conversation).where(
        Conversation.id == conversation_id, conversation_visibility(who)))
    if conversation is None:
        raise NotFound("gesprek niet gevonden", conversation_id=conversation_id)
    return conversation


def _require_staff(who: Principal) -> None:
    if not who.is_staff:
        raise Forbidden("alleen medewerkers kunnen dit doen")


async def _change(session: AsyncSession, conversation: Conversation, seen_version: int,
                  **values: Any) -> None:
    """Apply ``values`` only if nobody changed the conversation since ``seen_version``."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id, Conversation.version == seen_version)
        .values(**values, version=Conversation.version + 1)
        .returning(Conversation.version)
        .execution_options(synchronize_session=False))
    if result.scalar_one_or_none() is None:
        raise Conflict("Dit gesprek is intussen gewijzigd. Bekijk de nieuwe stand en "
                       "probeer het opnieuw.", conversation_id=conversation.id,
                       seen_version=seen_version)
    await session.refresh(conversation)


def state_payload(conversation: Conversation, change: str) -> dict[str, Any]:
    """The realtime frame for a changed conversation (list rows and open views)."""
    snoozed = conversation.snoozed_until
    return {
        "type": "conversation_updated", "change": change,
        "stream": f"conversation:{conversation.id}",
        "conversation_id": conversation.id, "client_id": conversation.client_id,
        "status": conversation.status,
        "snoozed_until": snoozed.isoformat() if snoozed else None,
        "assignee_staff_id": conversation.assignee_staff_id,
        "assignee_team_id": conversation.assignee_team_id,
        # not "seq": a frame with a seq is taken for a message of the stream by the
        # realtime layer, and one it has already passed would be dropped
        "version": conversation.version, "last_seq": conversation.last_seq,
    }


def announce(session: AsyncSession, conversation: Conversation, change: str) -> None:
    payload = state_payload(conversation, change)
    org = conversation.organisation_id
    emit(session, inbox_channel(org), payload)
    emit(session, conversation_channel(org, conversation.id), payload)


async def _audit_change(session: AsyncSession, who: Principal, conversation: Conversation,
                        detail: str) -> None:
    await audit.record(session, who, audit.Event.CHANGE, client_id=conversation.client_id,
                       object_ref=f"conversation:{conversation.id}", detail=detail)


async def assign(session: AsyncSession, who: Principal, conversation_id: int,
                 seen_version: int, *, staff_id: int | None,
                 team_id: int | None) -> Conversation:
    """Assign to a colleague and/or a team (both None: unassign)."""
    _require_staff(who)
    conversation = await load_visible(session, who, conversation_id)
    if staff_id is not None:
        await _check_assignee(session, who, conversation, staff_id)
    if team_id is not None:
        await _check_team(session, who, team_id)
    await _change(session, conversation, seen_version,
                  assignee_staff_id=staff_id, assignee_team_id=team_id)
    await _audit_change(session, who, conversation, f"assign staff={staff_id} team={team_id}")
    announce(session, conversation, "assign")
    return conversation


async def _check_assignee(session: AsyncSession, who: Principal, conversation: Conversation,
                          staff_id: int) -> None:
    staff = await session.scalar(select(Staff).where(
        Staff.id == staff_id, Staff.organisation_id == who.organisation_id,
        Staff.active.is_(True)))
    if staff is None:
        raise InvalidInput("onbekende collega", field="staff_id")
    colleague = Principal("staff", who.organisation_id, staff.id, staff.name, staff.role)
    # assigning to someone who may not see the client would hide it from everyone
    if not await can_see_conversation(session, colleague, conversation.id):
        raise InvalidInput(f"{staff.name} heeft geen zorgrelatie met deze cliënt",
                           field="staff_id")


async def _check_team(session: AsyncSession, who: Principal, team_id: int) -> None:
    team = await session.scalar(select(Team.id).where(
        Team.id == team_id, Team.organisation_id == who.organisation_id))
    if team is None:
        raise InvalidInput("onbekend team", field="team_id")


async def set_status(session: AsyncSession, who: Principal, conversation_id: int,
                     seen_version: int, status: str, *, snooze_until: dt.datetime | None = None,
                     now: dt.datetime | None = None) -> Conversation:
    """Open, pending, resolved, or snoozed until a moment (then reopened by the sweep)."""
    _require_staff(who)
    if status not in STATUS_CHOICES:
        raise InvalidInput("onbekende status", field="status")
    until = _snooze_moment(status, snooze_until, now or utcnow())
    conversation = await load_visible(session, who, conversation_id)
    await _change(session, conversation, seen_version, status=status, snoozed_until=until)
    await _audit_change(session, who, conversation, f"status={status} until={until}")
    announce(session, conversation, "status")
    if until is not None:
        # a precise wake-up; the every-minute sweep catches it if this job is lost
        delay = max((until - (now or utcnow())).total_seconds(), 0.0)
        enqueue(session, "reopen_snoozed", defer_by=delay,
                job_id=f"snooze:{conversation.id}:{conversation.version}")
    return conversation


def _snooze_moment(status: str, until: dt.datetime | None,
                   now: dt.datetime) -> dt.datetime | None:
    if status != ConversationStatus.SNOOZED:
        return None
    if until is None:
        raise InvalidInput("kies tot wanneer het gesprek gesluimerd wordt", field="until")
    if until.tzinfo is None:
        raise InvalidInput("tijdstip zonder tijdzone", field="until")
    if until <= now:
        raise InvalidInput("het tijdstip moet in de toekomst liggen", field="until")
    if until - now > MAX_SNOOZE:
        raise InvalidInput("sluimeren kan hoogstens een jaar", field="until")
    return until


async def add_note(session: AsyncSession, who: Principal, conversation_id: int, text: str,
                   *, note_id: str | None = None) -> Message:
    """An internal note: staff only, never sent to a channel, never shown in the portal.

    ``note_id`` (from the form) makes a double-submitted form store one note.
    """
    _require_staff(who)
    body = text.strip()
    if not body:
        raise InvalidInput("de notitie is leeg", field="text")
    if len(body) > MAX_NOTE_CHARS:
        raise InvalidInput("de notitie is te lang", field="text")
    conversation = await load_visible(session, who, conversation_id)
    new = NewMessage(channel=Channel.NOTE.value, direction=Direction.NOTE.value,
                     external_id=f"note:{who.user_id}:{note_id or uuid.uuid4().hex}",
                     body_text=body, full_text=body, sender_name=who.name,
                     sender_staff_id=who.user_id)
    message, created = await store_message(session, conversation, new)
    if created:
        await audit.record(session, who, audit.Event.CREATE, client_id=conversation.client_id,
                           object_ref=f"message:{message.id}", detail="note")
        await mark_read(session, who, conversation.id, message.seq)
    return message


async def link_client(session: AsyncSession, who: Principal, conversation_id: int,
                      seen_version: int, client_id: int | None) -> Conversation:
    """Link (or re-link, or unlink with None) the conversation to a client record."""
    _require_staff(who)
    conversation = await load_visible(session, who, conversation_id)
    if client_id is not None:
        exists = await session.scalar(select(Client.id).where(
            Client.id == client_id, Client.organisation_id == who.organisation_id))
        if exists is None or not await can_see_client(session, who, client_id):
            raise InvalidInput("cliënt niet gevonden of geen zorgrelatie", field="client_id")
    previous = conversation.client_id
    await _change(session, conversation, seen_version, client_id=client_id)
    await _audit_change(session, who, conversation, f"link client {previous} -> {client_id}")
    if previous is not None and previous != client_id:
        await audit.record(session, who, audit.Event.CHANGE, client_id=previous,
                           object_ref=f"conversation:{conversation.id}",
                           detail=f"unlinked; now client {client_id}")
    announce(session, conversation, "link")
    return conversation


async def mark_read(session: AsyncSession, who: Principal, conversation_id: int,
                    seq: int) -> int:
    """Move the reader's marker forward to ``seq`` (never back); returns the marker.

    When it moved, open views hear a ``delivery`` frame (``reader``: staff or portal,
    ``up_to``): the other side's messages up to there show as read.
    """
    mine = (ReadMarker.portal_user_id == who.user_id if who.is_portal
            else ReadMarker.staff_id == who.user_id)
    where = (ReadMarker.conversation_id == conversation_id, mine)
    before = await session.scalar(select(ReadMarker.last_read_seq).where(*where))
    if before is None and await _new_marker(session, who, conversation_id, seq):
        position = seq
    else:
        await session.execute(
            update(ReadMarker).where(*where, ReadMarker.last_read_seq < seq)
            .values(last_read_seq=seq, read_at=utcnow())
            .execution_options(synchronize_session=False))
        position = int(await session.scalar(
            select(ReadMarker.last_read_seq).where(*where)) or 0)
    if position > (before or 0):
        emit(session, conversation_channel(who.organisation_id, conversation_id),
             {"type": "delivery", "stream": f"conversation:{conversation_id}",
              "conversation_id": conversation_id, "status": "read",
              "reader": "portal" if who.is_portal else "staff", "up_to": position})
    return position


async def _new_marker(session: AsyncSession, who: Principal, conversation_id: int,
                      seq: int) -> bool:
    """Create the reader's marker at ``seq``; False when a second tab made it first."""
    owner = ({"portal_user_id": who.user_id} if who.is_portal
             else {"staff_id": who.user_id})
    try:
        async with session.begin_nested():
            session.add(ReadMarker(organisation_id=who.organisation_id,
                                   conversation_id=conversation_id, last_read_seq=seq,
                                   read_at=utcnow(), **owner))
    except IntegrityError:
        return False
    return True
