"""Admin pages for mail: the shared mailboxes (with their health and a connection test)
and the quarantine (read why, download the raw mail, retry).

Admins only (``ADMIN``). Passwords are never shown back: an empty password field keeps
the stored one. Reading or downloading a quarantined mail may show client details, so
both are audited; saving a mailbox asks the worker to (re)start its poller at once.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

import hub.web.catalogue_mail  # noqa: F401 - registers the English texts
from hub.db.engine import transaction
from hub.db.models import Mailbox
from hub.db.models.messaging import Channel
from hub.errors import ChannelError, InvalidInput
from hub.events import enqueue, unit_of_work
from hub.inbox import mailboxes, quarantine
from hub.inbox.attachments import AttachmentStore
from hub.inbox.ingest import retry_quarantined
from hub.inbox.normalise import Limits
from hub.security import audit
from hub.security.guards import hub_of
from hub.security.policy import ADMIN, SecureRoute, principal_of
from hub.web.inbox_forms import parse_form
from hub.web.templates import render

POST = ["POST"]
EMAIL = Channel.EMAIL.value
PREVIEW_BYTES = 8 * 1024


def routes() -> list[BaseRoute]:
    box = "/app/admin/mailboxes/{mailbox_id:int}"
    item = "/app/admin/quarantine/{quarantine_id:int}"
    return [
        SecureRoute("/app/admin/mailboxes", mailbox_list, access=ADMIN),
        SecureRoute("/app/admin/mailboxes/new", mailbox_new, access=ADMIN),
        SecureRoute("/app/admin/mailboxes/new", mailbox_create, access=ADMIN, methods=POST),
        SecureRoute(box, mailbox_edit, access=ADMIN),
        SecureRoute(box, mailbox_update, access=ADMIN, methods=POST),
        SecureRoute("/app/admin/quarantine", quarantine_list, access=ADMIN),
        SecureRoute(item, quarantine_item, access=ADMIN),
        SecureRoute(f"{item}/raw", quarantine_raw, access=ADMIN),
        SecureRoute(f"{item}/retry", quarantine_retry, access=ADMIN, methods=POST),
    ]


# --- mailboxes ----------------------------------------------------------------------


async def mailbox_list(request: Request) -> Response:
    who = principal_of(request)
    async with transaction(hub_of(request).sessions) as db:
        rows = await mailboxes.list_mailboxes(db, who.organisation_id)
    return render(request, "mail/mailboxes.html", {
        "mailboxes": [(m, mailboxes.health(m)) for m in rows],
        "notice": request.query_params.get("notice", "")})


async def mailbox_new(request: Request) -> Response:
    return _form_page(request, None, {"imap_port": 993, "imap_security": "tls",
                                      "smtp_port": 587, "smtp_security": "starttls",
                                      "folder": "INBOX", "enabled": True})


async def mailbox_edit(request: Request) -> Response:
    mailbox = await _load(request)
    return _form_page(request, mailbox, _values_of(mailbox))


async def mailbox_create(request: Request) -> Response:
    return await _save_or_test(request, None)


async def mailbox_update(request: Request) -> Response:
    return await _save_or_test(request, await _load(request))


async def _save_or_test(request: Request, mailbox: Mailbox | None) -> Response:
    form = await parse_form(request)
    try:
        values = mailboxes.clean_form(form, new=mailbox is None)
    except InvalidInput as exc:
        return _form_page(request, mailbox, _draft(form), error=exc.message, status=exc.status)
    if form.get("action") == "test":
        return await _test(request, mailbox, values, form)
    who = principal_of(request)
    hub = hub_of(request)
    async with unit_of_work(hub.sessions, hub.events) as db:
        saved = await mailboxes.save_mailbox(db, who, values,
                                             mailbox.id if mailbox else None)
        # the worker starts, restarts or stops the poller now instead of within a minute
        enqueue(db, "ensure_pollers")
    return RedirectResponse(f"/app/admin/mailboxes?notice=saved#mailbox-{saved.id}",
                            status_code=303)


async def _test(request: Request, mailbox: Mailbox | None, values: dict[str, Any],
                form: FormData) -> Response:
    trial = Mailbox(**{**(_values_of(mailbox) if mailbox else {}), **values})
    try:
        state = await mailboxes.check_connection(trial, hub_of(request).settings)
    except ChannelError as exc:
        return _form_page(request, mailbox, _draft(form), test_error=str(exc))
    return _form_page(request, mailbox, _draft(form), test_ok=state.exists)


def _form_page(request: Request, mailbox: Mailbox | None, values: dict[str, Any], *,
               error: str = "", status: int = 200, test_ok: int | None = None,
               test_error: str = "") -> Response:
    values = {**dict.fromkeys(mailboxes.FORM_FIELDS, ""), **values}
    return render(request, "mail/mailbox.html", {
        "mailbox": mailbox, "values": values, "error": error, "test_ok": test_ok,
        "test_error": test_error, "choices": mailboxes.SECURITY_CHOICES,
        "health": mailboxes.health(mailbox) if mailbox else None}, status=status)


async def _load(request: Request) -> Mailbox:
    who = principal_of(request)
    async with transaction(hub_of(request).sessions) as db:
        return await mailboxes.get_mailbox(db, who.organisation_id,
                                           int(request.path_params["mailbox_id"]))


def _values_of(mailbox: Mailbox) -> dict[str, Any]:
    return {name: getattr(mailbox, name) for name in mailboxes.FORM_FIELDS}


def _draft(form: FormData) -> dict[str, Any]:
    """What was typed, to show the form again (never the passwords)."""
    return {name: form.get(name) for name in mailboxes.FORM_FIELDS
            if "password" not in name}


# --- quarantine ---------------------------------------------------------------------


async def quarantine_list(request: Request) -> Response:
    who = principal_of(request)
    show_all = request.query_params.get("all") == "1"
    async with transaction(hub_of(request).sessions) as db:
        # WhatsApp and Messenger items have their own page (/app/admin/channels/quarantine)
        items = await quarantine.list_items(db, who.organisation_id, source=EMAIL,
                                            include_resolved=show_all)
        names = {m.id: m.name for m in await mailboxes.list_mailboxes(db, who.organisation_id)}
    return render(request, "mail/quarantine.html", {
        "items": items, "names": names, "show_all": show_all})


async def quarantine_item(request: Request) -> Response:
    who = principal_of(request)
    item_id = int(request.path_params["quarantine_id"])
    async with transaction(hub_of(request).sessions) as db:
        item = await quarantine.get_item(db, who.organisation_id, item_id, source=EMAIL)
        await audit.record(db, who, audit.Event.READ, object_ref=f"quarantine:{item.id}",
                           detail="quarantined mail viewed")
    preview = item.raw[:PREVIEW_BYTES].decode("utf-8", errors="replace")
    return render(request, "mail/quarantine_item.html", {
        "item": item, "preview": preview, "truncated": len(item.raw) > PREVIEW_BYTES,
        "notice": request.query_params.get("notice", "")})


async def quarantine_raw(request: Request) -> Response:
    who = principal_of(request)
    item_id = int(request.path_params["quarantine_id"])
    async with transaction(hub_of(request).sessions) as db:
        item = await quarantine.get_item(db, who.organisation_id, item_id, source=EMAIL)
        await audit.record(db, who, audit.Event.EXPORT, object_ref=f"quarantine:{item.id}",
                           detail="quarantined mail downloaded")
    return Response(item.raw, media_type="message/rfc822", headers={
        "Content-Disposition": f'attachment; filename="quarantaine-{item.id}.eml"',
        "X-Content-Type-Options": "nosniff"})


async def quarantine_retry(request: Request) -> Response:
    who = principal_of(request)
    hub = hub_of(request)
    item_id = int(request.path_params["quarantine_id"])
    settings = hub.settings
    message = await retry_quarantined(
        hub.sessions, hub.events, AttachmentStore(settings.attachments_dir),
        Limits(settings.max_attachment_bytes, settings.max_message_bytes), who, item_id)
    notice = "retried" if message is not None else "still_failing"
    return RedirectResponse(f"/app/admin/quarantine/{item_id}?notice={notice}", status_code=303)
