"""The routes of the inbox area (staff app and portal), each with its access policy.

``CONVERSATION`` / ``PORTAL_CONVERSATION`` / ``CLIENT`` make the policy check the path's
object against ``hub.security.access`` before the page runs; attachment downloads check
the attachment's conversation themselves (``hub.inbox.files``).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from hub.security.policy import (
    ADMIN,
    CLIENT,
    CONVERSATION,
    PORTAL,
    PORTAL_CONVERSATION,
    STAFF,
    SecureRoute,
)
from hub.web import conversation_pages as conv
from hub.web import inbox_pages, portal_chat

POST = ["POST"]


def staff_routes() -> list[BaseRoute]:
    one = "/app/conversations/{conversation_id:int}"
    return [
        SecureRoute("/app/", inbox_pages.inbox, access=STAFF),
        SecureRoute("/app/inbox/rows", inbox_pages.inbox_rows, access=STAFF),
        SecureRoute("/app/search", inbox_pages.search_page, access=STAFF),
        SecureRoute("/app/clients/{client_id:int}", inbox_pages.client_page, access=CLIENT),
        SecureRoute(one, conv.conversation_page, access=CONVERSATION),
        SecureRoute(f"{one}/messages", conv.messages_fragment, access=CONVERSATION),
        SecureRoute(f"{one}/reply", conv.reply, access=CONVERSATION, methods=POST),
        SecureRoute(f"{one}/note", conv.note, access=CONVERSATION, methods=POST),
        SecureRoute(f"{one}/assign", conv.assign, access=CONVERSATION, methods=POST),
        SecureRoute(f"{one}/status", conv.change_status, access=CONVERSATION, methods=POST),
        SecureRoute(f"{one}/link", conv.link, access=CONVERSATION, methods=POST),
        SecureRoute(f"{one}/read", conv.mark_read, access=CONVERSATION, methods=POST),
        SecureRoute(f"{one}/attachments/{{attachment_id:int}}", conv.download,
                    access=CONVERSATION),
        SecureRoute("/app/admin/canned-replies", inbox_pages.canned_page, access=ADMIN),
        SecureRoute("/app/admin/canned-replies", inbox_pages.canned_create, access=ADMIN,
                    methods=POST),
        SecureRoute("/app/admin/canned-replies/{reply_id:int}", inbox_pages.canned_change,
                    access=ADMIN, methods=POST),
    ]


def portal_routes() -> list[BaseRoute]:
    one = "/portal/conversations/{conversation_id:int}"
    return [
        SecureRoute("/portal/", portal_chat.home, access=PORTAL),
        SecureRoute("/portal/messages", portal_chat.start_conversation, access=PORTAL,
                    methods=POST),
        SecureRoute(one, portal_chat.conversation_page, access=PORTAL_CONVERSATION),
        SecureRoute(f"{one}/messages", portal_chat.messages_fragment,
                    access=PORTAL_CONVERSATION),
        SecureRoute(f"{one}/messages", portal_chat.send_message, access=PORTAL_CONVERSATION,
                    methods=POST),
        SecureRoute(f"{one}/read", portal_chat.mark_read, access=PORTAL_CONVERSATION,
                    methods=POST),
        SecureRoute(f"{one}/attachments/{{attachment_id:int}}", portal_chat.download,
                    access=PORTAL_CONVERSATION),
    ]
