"""Pages behind the mailed links (accept an invitation, reset a password) and the
"forgot password" form, for staff (``/invite``, ``/password``) and the portal
(``/portal/invite``, ``/portal/password``).

A link that is unknown, used or expired is refused with status 410, a clear message and
an audit line, and changes nothing.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.db.engine import transaction
from hub.errors import InvalidInput
from hub.security import accounts, audit, onetime, ratelimit
from hub.security.flows import (
    PORTAL_FLOW,
    STAFF_FLOW,
    Flow,
    get_user,
    principal_for,
    users_by_email,
)
from hub.security.guards import client_ip, hub_of, user_agent
from hub.security.onetime import Purpose
from hub.web.templates import render

_LINK_PROBLEMS = {
    "unknown": "Deze link is ongeldig.",
    "used": "Deze link is al gebruikt.",
    "expired": "Deze link is verlopen.",
}
SENT = ("Als dit e-mailadres bij ons bekend is, ontvangt u binnen enkele minuten een "
        "e-mail met een link om een nieuw wachtwoord te kiezen.")


def _flow(request: Request) -> Flow:
    return PORTAL_FLOW if request.url.path.startswith("/portal/") else STAFF_FLOW


async def accept_invitation(request: Request) -> Response:
    return await _link_page(request, "invite")


async def reset_password(request: Request) -> Response:
    return await _link_page(request, "reset")


async def _link_page(request: Request, purpose: Purpose) -> Response:
    flow = _flow(request)
    token = str(request.path_params["token"])
    async with transaction(hub_of(request).sessions) as db:
        found = await onetime.find(db, token, purpose, flow.kind)
        holder = found.holder
        user = await get_user(db, flow, holder.user_id if holder else None)
        if found.problem or user is None or not user.active:
            await _refuse(request, db, flow, found, purpose)
            return _link_refused(request, flow, found.problem or "unknown", purpose)
        if request.method == "GET":
            return _password_page(request, flow, purpose, user.email)
        form = await request.form()
        try:
            await accounts.set_password(db, user, str(form.get("password") or ""),
                                        str(form.get("password2") or ""))
        except InvalidInput as exc:
            return _password_page(request, flow, purpose, user.email, exc.message, 422)
        assert found.link is not None
        if not await onetime.use(db, found.link):
            return _link_refused(request, flow, "used", purpose)
        detail = "uitnodiging aanvaard, wachtwoord ingesteld" if purpose == "invite" else \
            "wachtwoord opnieuw ingesteld via link"
        await audit.record(db, principal_for(flow, user, request), audit.Event.CHANGE,
                           object_ref=f"{flow.kind}:{user.id}", detail=detail)
    return RedirectResponse(f"{flow.login_path}?done=password", status_code=303)


def _password_page(request: Request, flow: Flow, purpose: Purpose, email: str,
                   error: str = "", status: int = 200) -> Response:
    return render(request, "security/set_password.html", {
        "flow": flow, "purpose": purpose, "email": email, "error": error}, status=status)


def _link_refused(request: Request, flow: Flow, problem: str, purpose: Purpose) -> Response:
    return render(request, "security/link_refused.html", {
        "flow": flow, "message": _LINK_PROBLEMS.get(problem, _LINK_PROBLEMS["unknown"]),
        "purpose": purpose}, status=410)


async def _refuse(request: Request, db: AsyncSession, flow: Flow, found: onetime.Found,
                  purpose: Purpose) -> None:
    detail = f"{purpose}-link geweigerd: {found.problem or 'account niet actief'}"
    org = found.link.organisation_id if found.link else None
    await audit.record_anonymous(db, hub_of(request).settings, org, audit.Event.DENIED,
                                 ip=client_ip(request), user_agent=user_agent(request),
                                 detail=detail)


async def forgot_password(request: Request) -> Response:
    flow = _flow(request)
    if request.method == "GET":
        return render(request, "security/forgot.html", {"flow": flow, "sent": False})
    email = str((await request.form()).get("email") or "").strip().lower()[:254]
    hub = hub_of(request)
    mails = []
    # the same answer either way; past the limit no mail goes out (no mail bombing)
    allowed = await ratelimit.within_limit(hub.redis, hub.settings, "reset", client_ip(request))
    async with transaction(hub.sessions) as db:
        if not allowed:
            await audit.record_anonymous(db, hub.settings, None, audit.Event.DENIED,
                                         ip=client_ip(request), user_agent=user_agent(request),
                                         detail=f"te veel resetaanvragen ({email[:100]})")
        for user in await users_by_email(db, flow, email, active_only=True) if allowed else []:
            mails.append(await accounts.link_for(db, hub.settings, user, "reset"))
            await audit.record(db, principal_for(flow, user, request), audit.Event.CHANGE,
                               object_ref=f"{flow.kind}:{user.id}",
                               detail="link voor nieuw wachtwoord aangevraagd")
    for mail in mails:
        await accounts.send_link(hub.settings, mail)
    return render(request, "security/forgot.html", {"flow": flow, "sent": True})
