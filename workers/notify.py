"""Offline notifications: web push where the browser subscribed, else an email.

``hub.realtime.notify.plan`` stores a ``PendingNotification`` per offline recipient with
the message and enqueues ``send_notifications`` for them, deferred by
``notify_delay_seconds``. Each is sent unless its recipient read the message first (or
lost access to it). A sweep every
minute sends what is due and was not sent, because a deferred job can be lost (Redis
down at enqueue time) and missed cron runs are not caught up.

At-least-once without double sends in the normal case: a notification is claimed by
one conditional update (``via='claimed'``) before sending; a claim older than
``CLAIM_LEASE`` (the worker died mid-send) may be taken again. The text says only that
there is something new, with a link (invariant 6).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import httpx
from arq import cron
from sqlalchemy import and_, delete, or_, select, update

from hub.chat.access import is_member
from hub.db.base import utcnow
from hub.db.models import (
    PendingNotification,
    PortalUser,
    PushSubscription,
    ReadMarker,
    RoomMember,
    Staff,
)
from hub.events import unit_of_work
from hub.mail.sender import send_mail
from hub.realtime import webpush
from hub.resources import Resources
from hub.security.access import can_see_conversation
from hub.security.principal import Principal

log = logging.getLogger(__name__)
CLAIM_LEASE = dt.timedelta(minutes=10)
SWEEP_BATCH = 200

TEXTS = {
    "nl": ("Nieuw bericht in Zorghub", "Er staat een nieuw bericht voor u klaar.",
           "Er staat een nieuw bericht voor u klaar in Zorghub.\n\nBekijk het hier:\n{link}\n\n"
           "U krijgt deze e-mail omdat u niet online was. De inhoud staat alleen in Zorghub."),
    "en": ("New message in Zorghub", "A new message is waiting for you.",
           "A new message is waiting for you in Zorghub.\n\nRead it here:\n{link}\n\n"
           "You get this email because you were not online. The content is only in Zorghub."),
}


def _claimable(now: dt.datetime) -> Any:
    return and_(PendingNotification.cancelled_at.is_(None), or_(
        PendingNotification.sent_at.is_(None),
        and_(PendingNotification.via == "claimed",
             PendingNotification.sent_at < now - CLAIM_LEASE)))


async def send_notifications(ctx: dict[str, Any], notification_ids: list[int]) -> dict[str, int]:
    """The deferred job of one message: send each of its notifications (how many ended
    which way). One that fails is left to the sweep; the others still go."""
    outcomes: dict[str, int] = {}
    for notification_id in notification_ids:
        try:
            result = await send_notification(ctx, notification_id)
        except Exception:  # boundary: one failing notification must not stop the rest
            log.exception("notification %s failed; the sweep tries again", notification_id)
            result = "failed"
        outcomes[result] = outcomes.get(result, 0) + 1
    return outcomes


async def send_notification(ctx: dict[str, Any], notification_id: int) -> str:
    """Send one pending notification; returns what happened. Safe to re-run."""
    hub: Resources = ctx["hub"]
    row = await _claim(hub, notification_id)
    if isinstance(row, str):
        return row
    try:
        via = await _deliver(hub, row)
    except Exception:
        await _release(hub, row.id)  # to be tried again (arq retry or the sweep)
        raise
    async with unit_of_work(hub.sessions, hub.events) as db:
        await db.execute(update(PendingNotification).where(PendingNotification.id == row.id)
                         .values(via=via, sent_at=utcnow()))
    return via


async def _claim(hub: Resources, notification_id: int) -> PendingNotification | str:
    now = utcnow()
    async with unit_of_work(hub.sessions, hub.events) as db:
        row = await db.get(PendingNotification, notification_id)
        if row is None or row.cancelled_at is not None:
            return "cancelled"
        if row.due_at > now + dt.timedelta(seconds=1):
            return "not_due"  # early (a retry); the deferred job or the sweep comes back
        if await _no_longer_needed(db, row):
            row.cancelled_at = now
            return "read"
        claimed = await db.execute(update(PendingNotification).where(
            PendingNotification.id == row.id, _claimable(now))
            .values(via="claimed", sent_at=now))
        if not getattr(claimed, "rowcount", 0):
            return "taken"
    return row


async def _no_longer_needed(db: Any, row: PendingNotification) -> bool:
    """Read past the message, or no access to it any more."""
    kind, _, raw_id = row.stream.partition(":")
    stream_id = int(raw_id)
    who = await _principal(db, row)
    if who is None:
        return True
    if kind == "room":
        read = await db.scalar(select(RoomMember.last_read_seq).where(
            RoomMember.room_id == stream_id, RoomMember.staff_id == row.staff_id))
        return (read or 0) >= row.seq or not await is_member(db, who, stream_id)
    mine = (ReadMarker.staff_id == row.staff_id if row.staff_id
            else ReadMarker.portal_user_id == row.portal_user_id)
    read = await db.scalar(select(ReadMarker.last_read_seq).where(
        ReadMarker.conversation_id == stream_id, mine))
    return (read or 0) >= row.seq or not await can_see_conversation(db, who, stream_id)


async def _principal(db: Any, row: PendingNotification) -> Principal | None:
    if row.staff_id:
        staff = await db.get(Staff, row.staff_id)
        if staff is None or not staff.active:
            return None
        return Principal("staff", staff.organisation_id, staff.id, staff.name, staff.role)
    user = await db.get(PortalUser, row.portal_user_id)
    if user is None or not user.active:
        return None
    return Principal("portal", user.organisation_id, user.id, user.name, "portal")


async def _release(hub: Resources, notification_id: int) -> None:
    async with unit_of_work(hub.sessions, hub.events) as db:
        await db.execute(update(PendingNotification).where(
            PendingNotification.id == notification_id, PendingNotification.via == "claimed")
            .values(via=None, sent_at=None))


async def _deliver(hub: Resources, row: PendingNotification) -> str:
    address, language = await _recipient(hub, row)
    subject, push_text, mail_text = TEXTS.get(language, TEXTS["nl"])
    payload = {"title": subject, "body": push_text, "url": row.link, "tag": row.stream}
    if await _push(hub, row, payload):
        return "push"
    if address and await send_mail(hub.settings, address, subject,
                                   mail_text.format(link=row.link)):
        return "email"
    log.warning("notification %s: no push subscription and no mail sent", row.id)
    return "none"


async def _recipient(hub: Resources, row: PendingNotification) -> tuple[str, str]:
    async with hub.sessions() as db:
        user: Staff | PortalUser | None = (await db.get(Staff, row.staff_id) if row.staff_id
                                           else await db.get(PortalUser, row.portal_user_id))
    if user is None:
        return "", "nl"
    return user.email, user.language or hub.settings.default_language


async def _push(hub: Resources, row: PendingNotification, payload: dict[str, Any]) -> bool:
    column = (PushSubscription.staff_id == row.staff_id if row.staff_id
              else PushSubscription.portal_user_id == row.portal_user_id)
    async with hub.sessions() as db:
        subscriptions = (await db.scalars(select(PushSubscription).where(column))).all()
    delivered, gone = False, []
    async with httpx.AsyncClient(timeout=10) as client:
        for sub in subscriptions:
            status = await _push_one(client, hub, sub, payload)
            delivered = delivered or 200 <= status < 300
            if status in webpush.GONE:
                gone.append(sub.id)
    if gone:
        async with unit_of_work(hub.sessions, hub.events) as db:
            await db.execute(delete(PushSubscription).where(PushSubscription.id.in_(gone)))
    return delivered


async def _push_one(client: httpx.AsyncClient, hub: Resources, sub: PushSubscription,
                    payload: dict[str, Any]) -> int:
    try:
        return await webpush.send(client, hub.settings, sub.endpoint, sub.keys, payload)
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("web push to subscription %s failed: %s", sub.id, exc)
        return 0


async def sweep_notifications(ctx: dict[str, Any]) -> int:
    """Send what is due and unsent (a lost deferred job, a worker that was down)."""
    hub: Resources = ctx["hub"]
    now = utcnow()
    async with hub.sessions() as db:
        due = (await db.scalars(select(PendingNotification.id).where(
            PendingNotification.due_at <= now, _claimable(now))
            .order_by(PendingNotification.due_at).limit(SWEEP_BATCH))).all()
    sent = 0
    for notification_id in due:
        try:
            result = await send_notification(ctx, notification_id)
        except Exception:  # boundary: one failing notification must not stop the sweep
            log.exception("notification %s failed", notification_id)
            continue
        sent += result in {"push", "email"}
    return sent


FUNCTIONS = [send_notifications, sweep_notifications]
CRON_JOBS = [cron(sweep_notifications, second={0}, run_at_startup=True)]
