"""The password step of the staff and portal login, and logging out.

A right password starts a session with a new key; when a second factor is due the
session is "pending" and only the second-factor pages accept it. Every attempt is
audited; failures count towards the account and address lockouts of
``hub.security.ratelimit``. The error message never says whether the address exists.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.db.base import utcnow
from hub.db.engine import transaction
from hub.resources import Resources
from hub.security import audit, ratelimit
from hub.security.flows import (
    PORTAL_FLOW,
    STAFF_FLOW,
    Flow,
    User,
    end_session,
    principal_for,
    redirect_with_session,
    start_session,
    users_by_email,
)
from hub.security.guards import client_ip, current_principal, hub_of, user_agent
from hub.security.passwords import hash_password, needs_rehash, verify_password
from hub.web.errors import safe_next
from hub.web.templates import render

WRONG = "Het e-mailadres of wachtwoord klopt niet."
LOCKED = "Te veel mislukte pogingen. Probeer het over {minutes} minuten opnieuw."


def login_page(request: Request, flow: Flow, *, error: str = "", email: str = "",
               status: int = 200) -> Response:
    minutes = hub_of(request).settings.login_lockout_minutes
    return render(request, "security/login.html", {
        "flow": flow, "error": error, "error_values": {"minutes": minutes}, "email": email,
        "next": safe_next(request.query_params.get("next"), flow.home),
    }, status=status)


async def staff_login(request: Request) -> Response:
    return await _login(request, STAFF_FLOW)


async def portal_login(request: Request) -> Response:
    return await _login(request, PORTAL_FLOW)


async def _login(request: Request, flow: Flow) -> Response:
    if request.method == "GET":
        if await current_principal(request) is not None:
            return RedirectResponse(flow.home, status_code=303)
        return login_page(request, flow)
    form = await request.form()
    email = str(form.get("email") or "").strip().lower()[:254]
    password = str(form.get("password") or "")[:1024]
    target = safe_next(str(form.get("next") or ""), flow.home)
    return await _attempt(request, flow, email, password, target)


async def _attempt(request: Request, flow: Flow, email: str, password: str,
                   target: str) -> Response:
    hub = hub_of(request)
    locked = LOCKED
    if await ratelimit.address_locked(hub.redis, hub.settings, client_ip(request)):
        async with transaction(hub.sessions) as db:
            await _audit_anonymous(request, db, email, "adres geblokkeerd")
        return login_page(request, flow, error=locked, email=email, status=429)
    async with transaction(hub.sessions) as db:
        users = await users_by_email(db, flow, email)
        await _expire_locks(request, db, flow, users)
        open_ = [u for u in users if not ratelimit.account_locked(u)]
        if users and not open_:
            # the password is not even checked: a locked account must not confirm a guess
            verify_password(None, password)
            await _refuse_locked(request, db, flow, users)
            return login_page(request, flow, error=locked, email=email, status=429)
        user = _matching(open_, password)
        if user is None or not user.active:
            await _failed(request, db, hub, flow, open_, email)
            return login_page(request, flow, error=WRONG, email=email, status=401)
        return await _succeeded(request, db, flow, user, password, target)


async def _refuse_locked(request: Request, db: AsyncSession, flow: Flow,
                         users: list[User]) -> None:
    for user in users:
        await audit.record(db, principal_for(flow, user, request), audit.Event.LOGIN,
                           outcome=audit.Outcome.DENIED, detail="account geblokkeerd")


def _matching(users: list[User], password: str) -> User | None:
    if not users:
        verify_password(None, password)  # same cost as a real check: no enumeration
    for user in users:
        if verify_password(user.password_hash, password):
            return user
    return None


async def _expire_locks(request: Request, db: AsyncSession, flow: Flow,
                        users: list[User]) -> None:
    for user in users:
        if ratelimit.lock_expired(user):
            ratelimit.clear_account(user)
            await audit.record(db, principal_for(flow, user, request), audit.Event.UNLOCK,
                               object_ref=f"{flow.kind}:{user.id}", detail="blokkade verlopen")


async def _failed(request: Request, db: AsyncSession, hub: Resources, flow: Flow,
                  users: list[User], email: str) -> None:
    for user in users:
        await note_failure(request, db, flow, user, "onjuist wachtwoord")
    if not users:
        await _audit_anonymous(request, db, email, "onbekend e-mailadres")
    if await ratelimit.note_address_failure(hub.redis, hub.settings, client_ip(request)):
        await _audit_anonymous(request, db, email, f"adres {client_ip(request)} geblokkeerd",
                               event=audit.Event.LOCKOUT)


async def note_failure(request: Request, db: AsyncSession, flow: Flow, user: User,
                       detail: str) -> bool:
    """Audit a failed password or code and count it; True when the account got locked."""
    who = principal_for(flow, user, request)
    await audit.record(db, who, audit.Event.LOGIN, outcome=audit.Outcome.FAILED, detail=detail)
    if not ratelimit.note_account_failure(user, hub_of(request).settings):
        return False
    await audit.record(db, who, audit.Event.LOCKOUT, object_ref=f"{flow.kind}:{user.id}",
                       detail="te veel mislukte pogingen")
    return True


async def _audit_anonymous(request: Request, db: AsyncSession, email: str, detail: str,
                           event: audit.Event = audit.Event.LOGIN) -> None:
    await audit.record_anonymous(db, hub_of(request).settings, None, event,
                                 ip=client_ip(request), user_agent=user_agent(request),
                                 detail=f"{detail} ({email[:100]})",
                                 outcome=audit.Outcome.FAILED)


async def _succeeded(request: Request, db: AsyncSession, flow: Flow, user: User,
                     password: str, target: str) -> Response:
    settings = hub_of(request).settings
    ratelimit.clear_account(user)
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    needs_second = flow.second_factor_required(user, settings)
    if not needs_second:
        user.last_login_at = utcnow()
    auth = await start_session(request, db, flow, user, complete=not needs_second)
    detail = "wachtwoord juist; tweede factor volgt" if needs_second else "ingelogd"
    await audit.record(db, auth.principal, audit.Event.LOGIN, detail=detail,
                       object_ref=f"session:{auth.session.id}")
    return redirect_with_session(request, _next_step(flow, user, needs_second, target),
                                 flow, auth)


def _next_step(flow: Flow, user: User, needs_second: bool, target: str) -> str:
    if not needs_second:
        return target
    step = "2fa" if user.totp_secret else "2fa/setup"
    return f"{flow.login_path}/{step}?next={quote(target, safe='')}"


async def staff_logout(request: Request) -> Response:
    return await end_session(request, STAFF_FLOW, everywhere=False)


async def staff_logout_everywhere(request: Request) -> Response:
    return await end_session(request, STAFF_FLOW, everywhere=True)


async def portal_logout(request: Request) -> Response:
    return await end_session(request, PORTAL_FLOW, everywhere=False)


async def portal_logout_everywhere(request: Request) -> Response:
    return await end_session(request, PORTAL_FLOW, everywhere=True)
