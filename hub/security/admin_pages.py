"""User management for admins: list, invite, change role, disable, unlock, reset 2FA.

Every change is audited and takes the organisation from the admin, so another
organisation's staff ids are "not found". An admin cannot disable or demote themselves
(an organisation must keep an admin who can sign in).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.db.engine import transaction
from hub.db.models import Staff
from hub.db.models.org import Role
from hub.errors import Conflict, InvalidInput, NotFound
from hub.security import accounts, audit, ratelimit, sessions
from hub.security.guards import hub_of
from hub.security.policy import principal_of
from hub.security.principal import Principal
from hub.web.templates import render

Change = Callable[[AsyncSession, Principal, Staff, FormData], Awaitable[str]]


async def users_page(request: Request) -> Response:
    who = principal_of(request)
    async with hub_of(request).sessions() as db:
        staff = list(await db.scalars(select(Staff).where(
            Staff.organisation_id == who.organisation_id).order_by(Staff.name)))
    return render(request, "security/admin_users.html", {
        "staff": staff, "roles": [r.value for r in Role], "locked": ratelimit.account_locked,
        "notice": request.query_params.get("notice", "")})


async def invite(request: Request) -> Response:
    who = principal_of(request)
    form = await request.form()
    hub = hub_of(request)
    async with transaction(hub.sessions) as db:
        staff, mail = await accounts.invite_staff(
            db, hub.settings, who.organisation_id, str(form.get("email") or ""),
            str(form.get("name") or ""), str(form.get("role") or Role.STAFF.value))
        await audit.record(db, who, audit.Event.CREATE, object_ref=f"staff:{staff.id}",
                           detail=f"medewerker uitgenodigd als {staff.role}")
    sent = await accounts.send_link(hub.settings, mail)
    return _back("invited" if sent else "not_sent")


def _back(notice: str) -> Response:
    return RedirectResponse(f"/app/admin/users?notice={notice}", status_code=303)


async def _target(db: AsyncSession, who: Principal, request: Request) -> Staff:
    staff = await db.scalar(select(Staff).where(
        Staff.id == int(request.path_params["staff_id"]),
        Staff.organisation_id == who.organisation_id))
    if staff is None:
        raise NotFound("Deze medewerker bestaat niet.")
    return staff


def _change(action: Change) -> Callable[[Request], Awaitable[Response]]:
    """One admin action on one staff member: load, change, audit, back to the list."""

    async def endpoint(request: Request) -> Response:
        who = principal_of(request)
        form = await request.form()
        hub = hub_of(request)
        async with transaction(hub.sessions) as db:
            staff = await _target(db, who, request)
            detail = await action(db, who, staff, form)
            await audit.record(db, who, audit.Event.CHANGE, object_ref=f"staff:{staff.id}",
                               detail=detail)
        return _back("saved")

    endpoint.__name__ = action.__name__.lstrip("_")
    return endpoint


def _not_self(who: Principal, staff: Staff) -> None:
    if staff.id == who.user_id:
        raise Conflict("U kunt dit niet bij uw eigen account doen.")


async def _set_role(db: AsyncSession, who: Principal, staff: Staff, form: FormData) -> str:
    role = str(form.get("role") or "")
    if role not in {r.value for r in Role}:
        raise InvalidInput("Onbekende rol.", field="role")
    officer = form.get("privacy_officer") == "on"
    if staff.id == who.user_id and role != Role.ADMIN.value:
        _not_self(who, staff)
    staff.role, staff.is_privacy_officer = role, officer
    await sessions.revoke_all(db, "staff", staff.id)  # new rights apply from a new login
    return f"rol {role}, privacyfunctionaris {'ja' if officer else 'nee'}"


async def _toggle_active(db: AsyncSession, who: Principal, staff: Staff,
                         form: FormData) -> str:
    _not_self(who, staff)
    staff.active = not staff.active
    if not staff.active:
        await sessions.revoke_all(db, "staff", staff.id)
    return "account ingeschakeld" if staff.active else "account uitgeschakeld"


async def _unlock(db: AsyncSession, who: Principal, staff: Staff, form: FormData) -> str:
    ratelimit.clear_account(staff)
    await audit.record(db, who, audit.Event.UNLOCK, object_ref=f"staff:{staff.id}",
                       detail="ontgrendeld door beheerder")
    return "blokkade opgeheven"


async def _reset_2fa(db: AsyncSession, who: Principal, staff: Staff, form: FormData) -> str:
    staff.totp_secret, staff.totp_last_step, staff.recovery_codes = None, None, []
    await sessions.revoke_all(db, "staff", staff.id)
    return "tweede factor gewist; opnieuw instellen bij volgende login"


set_role = _change(_set_role)
toggle_active = _change(_toggle_active)
unlock = _change(_unlock)
reset_2fa = _change(_reset_2fa)


async def resend_invite(request: Request) -> Response:
    """A new invitation link for someone who has not chosen a password yet."""
    who = principal_of(request)
    hub = hub_of(request)
    async with transaction(hub.sessions) as db:
        staff = await _target(db, who, request)
        if staff.password_hash:
            raise Conflict("Deze medewerker heeft al een wachtwoord.")
        mail = await accounts.link_for(db, hub.settings, staff, "invite")
        await audit.record(db, who, audit.Event.CHANGE, object_ref=f"staff:{staff.id}",
                           detail="uitnodiging opnieuw verstuurd")
    sent = await accounts.send_link(hub.settings, mail)
    return _back("invited" if sent else "not_sent")
