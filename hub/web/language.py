"""Switch the interface language (nl/en): a cookie, and the signed-in user's preference."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.db.engine import transaction
from hub.db.models import PortalUser, Staff
from hub.security.guards import current_principal, hub_of
from hub.web.errors import safe_next
from hub.web.i18n import LANGUAGES
from hub.web.templates import LANG_COOKIE


async def choose_language(request: Request) -> Response:
    form = await request.form()
    language = str(form.get("language") or "")
    target = safe_next(str(form.get("next") or ""), "/")
    response = RedirectResponse(target, status_code=303)
    if language not in LANGUAGES:
        return response
    await _remember(request, language)
    response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, path="/", samesite="lax",
                        secure=hub_of(request).settings.https, httponly=True)
    return response


async def _remember(request: Request, language: str) -> None:
    who = await current_principal(request)
    if who is None or who.kind not in ("staff", "portal") or who.user_id is None:
        return
    async with transaction(hub_of(request).sessions) as db:
        user: Staff | PortalUser | None
        if who.kind == "staff":
            user = await db.get(Staff, who.user_id)
        else:
            user = await db.get(PortalUser, who.user_id)
        if user is not None and user.organisation_id == who.organisation_id:
            user.language = language
