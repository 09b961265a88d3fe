"""The second login step (TOTP code or recovery code) and setting up a TOTP secret.

Setting up: the page shows a new secret as a QR code and as text; the secret travels
back in a signed, 15-minute token bound to the session key (nothing is stored until a
code proves the app has it). Then the recovery codes are shown, once. Staff must set up
a second factor at their first login (``require_staff_2fa``); portal users may.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response

from hub.db.base import utcnow
from hub.db.engine import transaction
from hub.security import audit, ratelimit, sessions, totp
from hub.security.flows import (
    PORTAL_FLOW,
    STAFF_FLOW,
    Flow,
    User,
    get_user,
    principal_for,
    redirect_with_session,
    start_session,
)
from hub.security.guards import Auth, hub_of, session_auth
from hub.security.login import LOCKED, note_failure
from hub.web.errors import safe_next
from hub.web.templates import render

SETUP_MAX_AGE = 15 * 60
WRONG_CODE = "De code klopt niet. Probeer de volgende code uit uw app."
REPLAYED_CODE = "Deze code is al gebruikt. Wacht op de volgende code in uw app."


async def _session_and_user(conn: HTTPConnection, db: AsyncSession,
                            flow: Flow) -> tuple[Auth, User] | None:
    auth = await session_auth(conn, flow.kind)
    if auth is None:
        return None
    user = await get_user(db, flow, auth.principal.user_id)
    return (auth, user) if user is not None and user.active else None


def _target(conn: HTTPConnection, flow: Flow, value: object = None) -> str:
    raw = value if isinstance(value, str) else conn.query_params.get("next")
    return safe_next(raw, flow.home)


def _restart(flow: Flow) -> Response:
    return RedirectResponse(flow.login_path, status_code=303)


# --- the second step of the login -----------------------------------------------------


async def staff_second_factor(request: Request) -> Response:
    return await _second_factor(request, STAFF_FLOW)


async def portal_second_factor(request: Request) -> Response:
    return await _second_factor(request, PORTAL_FLOW)


def _code_page(request: Request, flow: Flow, target: str, error: str = "",
               status: int = 200) -> Response:
    minutes = hub_of(request).settings.login_lockout_minutes
    return render(request, "security/second_factor.html", {
        "flow": flow, "next": target, "error": error, "error_values": {"minutes": minutes},
    }, status=status)


async def _second_factor(request: Request, flow: Flow) -> Response:
    async with transaction(hub_of(request).sessions) as db:
        found = await _session_and_user(request, db, flow)
        if found is None or found[0].complete or not found[1].totp_secret:
            return _restart(flow)
        auth, user = found
        if request.method == "GET":
            return _code_page(request, flow, _target(request, flow))
        form = await request.form()
        return await _check_code(request, db, flow, auth, user, form)


async def _check_code(request: Request, db: AsyncSession, flow: Flow, auth: Auth,
                      user: User, form: FormData) -> Response:
    code = str(form.get("code") or "").strip()[:40]
    target = _target(request, flow, form.get("next"))
    if ratelimit.account_locked(user):
        return _code_page(request, flow, target, LOCKED, 429)
    if any(c.isalpha() for c in code):
        verdict = "ok" if await totp.spend_recovery_code(db, user, code) else "wrong"
        how = "herstelcode gebruikt"
    else:
        verdict = await totp.accept_code(db, user, code)
        how = "tweede factor"
    if verdict != "ok":
        return await _code_refused(request, db, flow, auth, user, target, verdict)
    ratelimit.clear_account(user)
    user.last_login_at = utcnow()
    await sessions.revoke(db, auth.session.key)
    fresh = await start_session(request, db, flow, user, complete=True)
    await audit.record(db, fresh.principal, audit.Event.LOGIN, detail=how,
                       object_ref=f"session:{fresh.session.id}")
    return redirect_with_session(request, target, flow, fresh)


async def _code_refused(request: Request, db: AsyncSession, flow: Flow, auth: Auth,
                        user: User, target: str, verdict: str) -> Response:
    replayed = verdict == "replayed"
    detail = "TOTP-code hergebruikt" if replayed else "onjuiste code"
    if await note_failure(request, db, flow, user, detail):
        await sessions.revoke(db, auth.session.key)
    return _code_page(request, flow, target, REPLAYED_CODE if replayed else WRONG_CODE, 401)


# --- setting up -----------------------------------------------------------------------


def _serializer(conn: HTTPConnection) -> URLSafeTimedSerializer:
    secret = hub_of(conn).settings.effective_secret_key()
    return URLSafeTimedSerializer(secret, salt="zh-totp-setup")


def _setup_page(request: Request, flow: Flow, auth: Auth, user: User, *, secret: str,
                target: str, error: str = "", status: int = 200) -> Response:
    token = _serializer(request).dumps({"k": auth.session.key, "s": secret})
    uri = totp.provisioning_uri(secret, user.email)
    return render(request, "security/totp_setup.html", {
        "flow": flow, "secret": secret, "qr": totp.qr_data_url(uri), "setup_token": token,
        "next": target, "error": error,
        "secret_groups": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
    }, status=status)


async def staff_setup(request: Request) -> Response:
    return await _setup(request, STAFF_FLOW)


async def portal_setup(request: Request) -> Response:
    return await _setup(request, PORTAL_FLOW)


async def _setup(request: Request, flow: Flow) -> Response:
    async with transaction(hub_of(request).sessions) as db:
        found = await _session_and_user(request, db, flow)
        if found is None:
            return _restart(flow)
        auth, user = found
        if user.totp_secret:
            return RedirectResponse(flow.home if auth.complete else
                                    f"{flow.login_path}/2fa", status_code=303)
        if request.method == "GET":
            return _setup_page(request, flow, auth, user, secret=totp.new_secret(),
                               target=_target(request, flow))
        return await _confirm_setup(request, db, flow, auth, user)


async def _confirm_setup(request: Request, db: AsyncSession, flow: Flow, auth: Auth,
                         user: User) -> Response:
    form = await request.form()
    target = _target(request, flow, form.get("next"))
    try:
        data = _serializer(request).loads(str(form.get("setup_token") or ""),
                                          max_age=SETUP_MAX_AGE)
    except BadSignature:
        data = {}
    if not isinstance(data, dict) or data.get("k") != auth.session.key:
        return _restart(flow)
    secret = str(data["s"])
    verdict = await totp.accept_code(db, user, str(form.get("code") or ""), secret=secret)
    if verdict != "ok":
        await note_failure(request, db, flow, user, "onjuiste code bij instellen")
        return _setup_page(request, flow, auth, user, secret=secret, target=target,
                           error=WRONG_CODE, status=422)
    return await _activate(request, db, flow, auth, user, secret, target)


async def _activate(request: Request, db: AsyncSession, flow: Flow, auth: Auth, user: User,
                    secret: str, target: str) -> Response:
    codes = totp.new_recovery_codes()
    user.totp_secret = secret
    user.recovery_codes = [totp.hash_recovery_code(c) for c in codes]
    user.last_login_at = utcnow()
    await sessions.revoke(db, auth.session.key)
    fresh = await start_session(request, db, flow, user, complete=True)
    await audit.record(db, fresh.principal, audit.Event.CHANGE,
                       object_ref=f"{flow.kind}:{user.id}", detail="tweede factor ingesteld")
    response = render(request, "security/recovery_codes.html",
                      {"flow": flow, "codes": codes, "next": target})
    sessions.set_cookie(response, hub_of(request).settings, flow.kind, fresh.session)
    return response


async def portal_disable(request: Request) -> Response:
    """A portal user switches their (optional) second factor off, with a current code."""
    async with transaction(hub_of(request).sessions) as db:
        found = await _session_and_user(request, db, PORTAL_FLOW)
        if found is None or not found[1].totp_secret:
            return _restart(PORTAL_FLOW)
        user = found[1]
        code = str((await request.form()).get("code") or "")
        if await totp.accept_code(db, user, code) != "ok":
            await note_failure(request, db, PORTAL_FLOW, user, "onjuiste code bij uitzetten")
            return RedirectResponse("/portal/account?error=code", status_code=303)
        user.totp_secret, user.recovery_codes, user.totp_last_step = None, [], None
        await audit.record(db, principal_for(PORTAL_FLOW, user, request), audit.Event.CHANGE,
                           object_ref=f"portal:{user.id}", detail="tweede factor uitgezet")
    return RedirectResponse("/portal/account", status_code=303)
