"""The routes of the security area and the pages built on it, each with its policy."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from hub.security import admin_pages, audit_pages, link_pages, login, second_factor
from hub.security.policy import (
    ADMIN,
    CLIENT,
    PORTAL,
    PRIVACY_OFFICER,
    PUBLIC,
    STAFF,
    SecureRoute,
    declare,
)
from hub.web import chat_pages, inbox_routes, language, portal_pages, staff_pages

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
GET_POST = ["GET", "POST"]


async def front_door(request: Request) -> Response:
    return RedirectResponse("/app/", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        declare(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"), PUBLIC),
        SecureRoute("/", front_door, access=PUBLIC),
        SecureRoute("/language", language.choose_language, access=PUBLIC, methods=["POST"]),
        *_login_routes(),
        *_link_routes(),
        *_staff_routes(),
        *_admin_routes(),
        *_portal_routes(),
    ]


def _login_routes() -> list[BaseRoute]:
    return [
        SecureRoute("/login", login.staff_login, access=PUBLIC, methods=GET_POST),
        SecureRoute("/login/2fa", second_factor.staff_second_factor, access=PUBLIC,
                    methods=GET_POST),
        SecureRoute("/login/2fa/setup", second_factor.staff_setup, access=PUBLIC,
                    methods=GET_POST),
        SecureRoute("/logout", login.staff_logout, access=PUBLIC, methods=["POST"]),
        SecureRoute("/logout/everywhere", login.staff_logout_everywhere, access=STAFF,
                    methods=["POST"]),
        SecureRoute("/portal/login", login.portal_login, access=PUBLIC, methods=GET_POST),
        SecureRoute("/portal/login/2fa", second_factor.portal_second_factor, access=PUBLIC,
                    methods=GET_POST),
        SecureRoute("/portal/login/2fa/setup", second_factor.portal_setup, access=PUBLIC,
                    methods=GET_POST),
        SecureRoute("/portal/account/2fa/disable", second_factor.portal_disable,
                    access=PORTAL, methods=["POST"]),
        SecureRoute("/portal/logout", login.portal_logout, access=PUBLIC, methods=["POST"]),
        SecureRoute("/portal/logout/everywhere", login.portal_logout_everywhere,
                    access=PORTAL, methods=["POST"]),
    ]


def _staff_routes() -> list[BaseRoute]:
    return [
        # the inbox, conversations, client records and search (hub.web.inbox_routes)
        *inbox_routes.staff_routes(),
        *chat_pages.routes(),  # staff chat rooms (hub.web.chat_pages)
        SecureRoute("/app/clients", staff_pages.home, access=STAFF),
        SecureRoute("/app/emergency-access", staff_pages.emergency_access, access=ADMIN,
                    methods=["POST"]),
        SecureRoute("/app/clients/{client_id:int}/portal-invite", staff_pages.portal_invite,
                    access=CLIENT, methods=["POST"]),
    ]


def _link_routes() -> list[BaseRoute]:
    found: list[BaseRoute] = []
    for prefix in ("", "/portal"):
        found += [
            SecureRoute(f"{prefix}/invite/{{token}}", link_pages.accept_invitation,
                        access=PUBLIC, methods=GET_POST),
            SecureRoute(f"{prefix}/password/forgot", link_pages.forgot_password,
                        access=PUBLIC, methods=GET_POST),
            SecureRoute(f"{prefix}/password/reset/{{token}}", link_pages.reset_password,
                        access=PUBLIC, methods=GET_POST),
        ]
    return found


def _admin_routes() -> list[BaseRoute]:
    user = "/app/admin/users/{staff_id:int}"
    return [
        SecureRoute("/app/admin/users", admin_pages.users_page, access=ADMIN),
        SecureRoute("/app/admin/users/invite", admin_pages.invite, access=ADMIN,
                    methods=["POST"]),
        SecureRoute(f"{user}/role", admin_pages.set_role, access=ADMIN, methods=["POST"]),
        SecureRoute(f"{user}/active", admin_pages.toggle_active, access=ADMIN,
                    methods=["POST"]),
        SecureRoute(f"{user}/unlock", admin_pages.unlock, access=ADMIN, methods=["POST"]),
        SecureRoute(f"{user}/reset-2fa", admin_pages.reset_2fa, access=ADMIN,
                    methods=["POST"]),
        SecureRoute(f"{user}/resend", admin_pages.resend_invite, access=ADMIN,
                    methods=["POST"]),
        SecureRoute("/app/audit", audit_pages.audit_page, access=PRIVACY_OFFICER),
        SecureRoute("/app/audit/export.csv", audit_pages.export_csv, access=PRIVACY_OFFICER),
    ]


def _portal_routes() -> list[BaseRoute]:
    return [
        # conversations, writing and live chat (hub.web.inbox_routes)
        *inbox_routes.portal_routes(),
        SecureRoute("/portal/access-log", portal_pages.access_log, access=PORTAL),
        SecureRoute("/portal/account", portal_pages.account, access=PORTAL),
    ]
