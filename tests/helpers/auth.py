"""Sign test users in without the login pages (those have their own tests).

    csrf = await signed_in(client, hub, staff)      # cookie set, X-CSRF-Token header set
    name, value = await session_cookie(hub, staff)  # for a websocket handshake
    staff.password_hash = hashed(PASSWORD)          # argon2 once per test session
"""

from __future__ import annotations

import functools
import re

import httpx
import pyotp

from hub.db.engine import transaction
from hub.db.models import PortalUser, Staff
from hub.resources import Resources
from hub.security import sessions
from hub.security.passwords import hash_password

PASSWORD = "Zomerzon-2024!"


@functools.cache
def hashed(password: str = PASSWORD) -> str:
    """An argon2id hash of ``password``, computed once: hashing costs ~50 ms a time."""
    return hash_password(password)


def totp_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()


async def start_session(hub: Resources, user: Staff | PortalUser) -> tuple[str, str, str]:
    """A session with the second factor done: (cookie name, cookie value, CSRF token)."""
    kind: sessions.SessionKind = "staff" if isinstance(user, Staff) else "portal"
    async with transaction(hub.sessions) as db:
        row = await sessions.start(db, hub.settings, kind=kind,
                                   organisation_id=user.organisation_id, user_id=user.id,
                                   second_factor_done=True, ip="127.0.0.1",
                                   user_agent="pytest")
    return (sessions.cookie_name(kind), sessions.sign_key(hub.settings, kind, row.key),
            row.csrf_token)


async def session_cookie(hub: Resources, user: Staff | PortalUser) -> tuple[str, str]:
    name, value, _ = await start_session(hub, user)
    return name, value


async def signed_in(client: httpx.AsyncClient, hub: Resources,
                    user: Staff | PortalUser) -> str:
    """Put ``user``'s session cookie in ``client`` and send its CSRF token as a header."""
    name, value, csrf = await start_session(hub, user)
    client.cookies.set(name, value)
    client.headers["X-CSRF-Token"] = csrf
    return csrf


def form_csrf(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert match, f"no hidden field {name} on the page"
    return match.group(1)


async def log_in_with_password(client: httpx.AsyncClient, email: str,
                               password: str = PASSWORD, prefix: str = "") -> httpx.Response:
    """Post the real login form (after fetching it for its CSRF token)."""
    page = await client.get(f"{prefix}/login")
    return await client.post(f"{prefix}/login", data={
        "email": email, "password": password, "csrf_token": form_csrf(page.text)})
