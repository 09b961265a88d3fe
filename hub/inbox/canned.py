"""Canned replies: standard answers admins keep, staff insert into a reply and edit.

They are organisation settings, not client data, but changes are still audited so an
admin can see who changed the standard answer about, say, opening hours.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import CannedReply
from hub.errors import Forbidden, InvalidInput, NotFound
from hub.security import audit
from hub.security.principal import Principal

MAX_TITLE = 120
MAX_BODY = 5_000


def _require_admin(who: Principal) -> None:
    if not (who.is_staff and who.role == "admin"):
        raise Forbidden("alleen beheerders beheren standaardantwoorden")


def _clean(title: str, body: str) -> tuple[str, str]:
    title, body = title.strip(), body.strip()
    if not title:
        raise InvalidInput("geef het standaardantwoord een titel", field="title")
    if not body:
        raise InvalidInput("de tekst is leeg", field="body")
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"de titel mag hoogstens {MAX_TITLE} tekens zijn", field="title")
    if len(body) > MAX_BODY:
        raise InvalidInput(f"de tekst mag hoogstens {MAX_BODY} tekens zijn", field="body")
    return title, body


async def list_replies(session: AsyncSession, who: Principal) -> list[CannedReply]:
    if not who.is_staff:
        raise Forbidden("alleen voor medewerkers")
    query = (select(CannedReply).where(CannedReply.organisation_id == who.organisation_id)
             .order_by(CannedReply.title, CannedReply.id))
    return list((await session.scalars(query)).all())


async def get_reply(session: AsyncSession, who: Principal, reply_id: int) -> CannedReply:
    reply = await session.scalar(select(CannedReply).where(
        CannedReply.id == reply_id, CannedReply.organisation_id == who.organisation_id))
    if reply is None:
        raise NotFound("standaardantwoord niet gevonden", reply_id=reply_id)
    return reply


async def create_reply(session: AsyncSession, who: Principal, title: str,
                       body: str) -> CannedReply:
    _require_admin(who)
    title, body = _clean(title, body)
    reply = CannedReply(organisation_id=who.organisation_id, title=title, body=body)
    session.add(reply)
    await session.flush()
    await audit.record(session, who, audit.Event.CREATE, object_ref=f"canned_reply:{reply.id}",
                       detail=title)
    return reply


async def update_reply(session: AsyncSession, who: Principal, reply_id: int, title: str,
                       body: str) -> CannedReply:
    _require_admin(who)
    title, body = _clean(title, body)
    reply = await get_reply(session, who, reply_id)
    reply.title, reply.body = title, body
    await session.flush()
    await audit.record(session, who, audit.Event.CHANGE, object_ref=f"canned_reply:{reply.id}",
                       detail=title)
    return reply


async def delete_reply(session: AsyncSession, who: Principal, reply_id: int) -> None:
    _require_admin(who)
    reply = await get_reply(session, who, reply_id)
    await session.delete(reply)
    await audit.record(session, who, audit.Event.DELETE, object_ref=f"canned_reply:{reply_id}",
                       detail=reply.title)
