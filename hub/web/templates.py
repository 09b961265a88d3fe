"""One Jinja2 environment for every page, and ``render`` to use it.

``render(request, "area/page.html", {...})`` adds to the context:

- ``principal``: the signed-in ``Principal`` the route's guard found (or None);
- ``csrf_token`` (the string) and ``csrf_field`` (a hidden input, ready to print in a
  form); base.html also puts the token in ``<meta name="csrf-token">`` for fetch calls
  (header ``X-CSRF-Token``);
- ``lang`` (nl or en) and ``_`` (translate a Dutch text, see ``hub.web.i18n``);
- ``static(path)``: the URL of a file in ``hub/static``.

Pages extend ``base.html`` and fill ``title``, ``content`` and, for JS files (no inline
script: the CSP forbids it), ``scripts``.
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse

from hub.security import guards
from hub.web import i18n

LANG_COOKIE = "zh_lang"


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("hub", "templates"),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.globals["static"] = static_url
    env.filters["datetime"] = format_datetime
    env.filters["date"] = format_date
    return env


def static_url(path: str) -> str:
    return f"/static/{path.lstrip('/')}"


def format_datetime(value: Any) -> str:
    """Local display of an aware UTC datetime (Europe/Amsterdam), day-month-year."""
    if value is None:
        return ""
    return str(_amsterdam(value).strftime("%d-%m-%Y %H:%M"))


def format_date(value: Any) -> str:
    return "" if value is None else str(value.strftime("%d-%m-%Y"))


def _amsterdam(value: Any) -> Any:
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo("Europe/Amsterdam"))


def language_of(request: HTTPConnection) -> str:
    who = guards.cached_principal(request)
    if who is not None and who.language in i18n.LANGUAGES:
        return who.language
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in i18n.LANGUAGES:
        return chosen
    default = guards.hub_of(request).settings.default_language
    return i18n.pick_language(request.headers.get("accept-language", ""), default)


def context_for(request: HTTPConnection, context: dict[str, Any] | None = None) -> dict[str, Any]:
    lang = language_of(request)
    token = guards.csrf_token(request)
    field = Markup('<input type="hidden" name="csrf_token" value="{}">').format(escape(token))
    return {
        "request": request, "principal": guards.cached_principal(request), "lang": lang,
        "_": i18n.translator(lang), "csrf_token": token, "csrf_field": field,
        **(context or {}),
    }


def render(request: HTTPConnection, name: str, context: dict[str, Any] | None = None,
           status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    html = environment().get_template(name).render(context_for(request, context))
    response = HTMLResponse(html, status_code=status, headers=headers)
    attach_csrf_cookie(request, response)
    return response


def attach_csrf_cookie(request: HTTPConnection, response: Any) -> None:
    """Set the pre-login ``zh_csrf`` cookie when ``csrf_token`` made a new one."""
    value = guards.new_anon_cookie(request)
    if value:
        settings = guards.hub_of(request).settings
        response.set_cookie(guards.ANON_CSRF_COOKIE, value, path="/", httponly=True,
                            secure=settings.https, samesite="strict")
