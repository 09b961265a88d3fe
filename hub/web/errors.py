"""How a ``HubError`` reaches a person: JSON for the API, a page or redirect otherwise.

- ``/api``, ``/webhooks``, ``/healthz`` and requests that accept only JSON get
  ``{"error": {"code", "message"}}`` with the error's status;
- a page that needs a login (``AuthError``) redirects to ``/login?next=...`` (staff) or
  ``/portal/login?next=...``; a half-finished login goes to its second-factor step;
- anything else renders ``security/error.html`` with the error's status; an admin refused
  a client record gets the "break the glass" form there.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from hub.errors import AuthError, HubError
from hub.web.templates import render

_JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/site/")


def wants_json(request: Request) -> bool:
    if request.url.path.startswith(_JSON_PREFIXES):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


async def error_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HubError)
    if wants_json(request):
        return JSONResponse(exc.to_json(), status_code=exc.status, headers=exc.headers())
    if type(exc) is AuthError:
        return login_redirect(request, exc)
    template = "security/break_glass.html" if exc.fields.get("break_glass") else \
        "security/error.html"
    return render(request, template, {"error": exc}, status=exc.status)


def login_redirect(request: Request, exc: AuthError) -> Response:
    portal = exc.fields.get("login") == "portal" or request.url.path.startswith("/portal")
    base = "/portal/login" if portal else "/login"
    if exc.fields.get("reason") == "second_factor":
        return RedirectResponse(f"{base}/2fa", status_code=303)
    # the reason lets the login page say why (signed out, session expired)
    target = f"{base}?reason={quote(str(exc.fields.get('reason') or 'signed_out'))}"
    if request.method == "GET":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += f"&next={quote(here, safe='')}"
    return RedirectResponse(target, status_code=303)


def safe_next(value: str | None, default: str) -> str:
    """A local path to go to after login; anything else (``//evil``, URLs) is ignored."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value
