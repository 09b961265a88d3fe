"""Admin pages for WhatsApp numbers and Facebook Pages ("Kanalen"), and their quarantine.

Admins only (``ADMIN``); every change is audited as ``channel_account:ID``. Saving goes
through ``hub.channels.accounts.save_account`` (the same rules as ``hub add-channel``),
so an account id that belongs to another organisation is refused there, never moved.
The access token is write-only: it is stored, never rendered again, and a refused form
comes back without it. Quarantined webhook items may hold what a client wrote, so
reading and downloading one is audited; "opnieuw proberen" replays the item through the
worker (``retake_quarantined``) and the item page then shows how it fared.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

import hub.web.catalogue_channels  # noqa: F401 - registers the English texts
from hub.channels import accounts
from hub.channels.accounts import AccountInput
from hub.db.engine import transaction
from hub.db.models import ChannelAccount
from hub.errors import Conflict, InvalidInput, NotFound
from hub.events import unit_of_work
from hub.inbox.meta_ingest import retake_quarantined
from hub.security import audit
from hub.security.guards import audit_denied, hub_of
from hub.security.policy import ADMIN, SecureRoute, principal_of
from hub.security.principal import Principal
from hub.web import channel_state as state
from hub.web.templates import render

POST = ["POST"]
BASE = "/app/admin/channels"
# the item page looks again every few seconds while the worker has not taken the retry
REFRESH_SECONDS = 2
MAX_REFRESHES = 15
DRAFT_FIELDS = ("kind", "external_account_id", "name", "notice_template", "notice_language")
EMPTY_DRAFT = {**dict.fromkeys(DRAFT_FIELDS, ""), "kind": "whatsapp", "notice_language": "nl"}
Edit = Callable[[ChannelAccount, FormData], AccountInput]


def routes() -> list[BaseRoute]:
    account = BASE + "/{channel_account_id:int}"
    item = BASE + "/quarantine/{channel_item_id:int}"
    return [
        SecureRoute(BASE, channel_list, access=ADMIN),
        SecureRoute(BASE, channel_create, access=ADMIN, methods=POST),
        SecureRoute(account, channel_update, access=ADMIN, methods=POST),
        SecureRoute(f"{account}/token", channel_rotate, access=ADMIN, methods=POST),
        SecureRoute(f"{BASE}/quarantine", quarantine_list, access=ADMIN),
        SecureRoute(item, quarantine_item, access=ADMIN),
        SecureRoute(f"{item}/raw", quarantine_raw, access=ADMIN),
        SecureRoute(f"{item}/retry", quarantine_retry, access=ADMIN, methods=POST),
    ]


# --- accounts -----------------------------------------------------------------------


async def channel_list(request: Request) -> Response:
    return await _list_page(request)


async def _list_page(request: Request, *, problem: InvalidInput | Conflict | None = None,
                     draft: dict[str, Any] | None = None, failed_id: int | None = None,
                     ) -> Response:
    who = principal_of(request)
    async with hub_of(request).sessions() as db:
        rows = list(await db.scalars(select(ChannelAccount).where(
            ChannelAccount.organisation_id == who.organisation_id)
            .order_by(ChannelAccount.kind, ChannelAccount.name, ChannelAccount.id)))
        waiting = await state.waiting_items(db, who.organisation_id)
        health = await state.account_health(db, who.organisation_id, rows, waiting)
    return render(request, "admin/channels.html", {
        "accounts": rows, "health": health, "waiting": len(waiting), "kinds": accounts.KINDS,
        "notice": request.query_params.get("notice", ""), "problem": problem,
        "problems": _problems(problem), "draft": {**EMPTY_DRAFT, **(draft or {})},
        "failed_id": failed_id, "base_url": hub_of(request).settings.base_url.rstrip("/")},
        status=problem.status if problem else 200)


def _problems(problem: InvalidInput | Conflict | None) -> dict[str, str]:
    found = problem.fields.get("fields") if problem is not None else None
    return found if isinstance(found, dict) else {}


async def channel_create(request: Request) -> Response:
    who = principal_of(request)
    form = await _form(request)
    account = _new(form)
    try:
        async with transaction(hub_of(request).sessions) as db:
            account_id = await _create(db, who, account)
    except (InvalidInput, Conflict) as exc:
        await _audit_refusal(request, who, exc, account)
        return await _list_page(request, problem=exc, draft=_draft(form))
    return _back("created", account_id)


async def _create(db: AsyncSession, who: Principal, account: AccountInput) -> int:
    row, created = await accounts.save_account(db, who.organisation_id, account)
    if not created:
        # the command line updates an existing account; the page says where it is instead
        raise Conflict("Dit account is al gekoppeld; wijzig het in de lijst.",
                       existing=row.id)
    await audit.record(db, who, audit.Event.CREATE, object_ref=f"channel_account:{row.id}",
                       detail=f"{row.kind}-account {row.external_account_id} gekoppeld"
                              f" ({row.name})")
    return row.id


async def _audit_refusal(request: Request, who: Principal, exc: InvalidInput | Conflict,
                         account: AccountInput) -> None:
    """Claiming another organisation's number is worth a line in the audit log."""
    if isinstance(exc, Conflict) and "existing" not in exc.fields:
        await audit_denied(request, who, exc.message,
                           object_ref=f"{account.kind}:{account.external_account_id}"[:120])


def _new(form: FormData) -> AccountInput:
    return AccountInput(
        kind=_text(form, "kind"), external_account_id=_text(form, "external_account_id"),
        name=_text(form, "name"), access_token=_text(form, "access_token"),
        notice_template=_text(form, "notice_template"),
        notice_language=_text(form, "notice_language") or "nl")


def _edited(row: ChannelAccount, form: FormData) -> AccountInput:
    """Name and switch from the form; the template only where the form has it
    (Messenger's form has none, and must not wipe one set on the command line)."""
    current = _current(row)
    return dataclasses.replace(
        current, name=_text(form, "name"), enabled=form.get("enabled") == "on",
        notice_template=_field(form, "notice_template", current.notice_template),
        notice_language=_field(form, "notice_language", current.notice_language))


def _rotated(row: ChannelAccount, form: FormData) -> AccountInput:
    return dataclasses.replace(_current(row), access_token=_text(form, "access_token"))


async def channel_update(request: Request) -> Response:
    return await _apply(request, _edited, "saved")


async def channel_rotate(request: Request) -> Response:
    return await _apply(request, _rotated, "rotated")


async def _apply(request: Request, edit: Edit, notice: str) -> Response:
    """Load the organisation's account, change it through ``save_account``, audit."""
    who = principal_of(request)
    form = await _form(request)
    try:
        async with transaction(hub_of(request).sessions) as db:
            row = await _load(db, who, request)
            before = _current(row)
            await accounts.save_account(db, who.organisation_id, edit(row, form))
            await audit.record(db, who, audit.Event.CHANGE,
                               object_ref=f"channel_account:{row.id}",
                               detail=changes(before, _current(row)))
            account_id = row.id
    except InvalidInput as exc:
        return await _list_page(request, problem=exc,
                                failed_id=request.path_params["channel_account_id"])
    return _back(notice, account_id)


async def _load(db: AsyncSession, who: Principal, request: Request) -> ChannelAccount:
    row = await db.scalar(select(ChannelAccount).where(
        ChannelAccount.id == int(request.path_params["channel_account_id"]),
        ChannelAccount.organisation_id == who.organisation_id))
    if row is None:
        raise NotFound("Dit kanaal bestaat niet.")
    return row


def changes(before: AccountInput, after: AccountInput) -> str:
    """The audit line of an edit: what changed, never the token itself."""
    said = [f"{name}: {getattr(before, name)!r} -> {getattr(after, name)!r}"
            for name in ("name", "enabled", "notice_template", "notice_language")
            if getattr(before, name) != getattr(after, name)]
    if before.access_token != after.access_token:
        said.append("toegangstoken vervangen")
    return "; ".join(said) or "niets gewijzigd"


def _current(row: ChannelAccount) -> AccountInput:
    return AccountInput(kind=row.kind, external_account_id=row.external_account_id,
                        name=row.name, access_token=row.access_token,
                        notice_template=row.notice_template,
                        notice_language=row.notice_language, enabled=row.enabled)


def _field(form: FormData, name: str, default: str) -> str:
    return _text(form, name) if name in form else default


async def _form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=20)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _draft(form: FormData) -> dict[str, str]:
    """What was typed, to show the form again: never the token."""
    return {name: _text(form, name) for name in DRAFT_FIELDS}


def _back(notice: str, account_id: int) -> Response:
    return RedirectResponse(f"{BASE}?notice={notice}#account-{account_id}", status_code=303)


# --- quarantine ---------------------------------------------------------------------


async def quarantine_list(request: Request) -> Response:
    who = principal_of(request)
    show_all = request.query_params.get("all") == "1"
    async with hub_of(request).sessions() as db:
        items = await state.waiting_items(db, who.organisation_id, include_resolved=show_all)
    return render(request, "admin/channels_quarantine.html", {
        "items": items, "show_all": show_all})


async def quarantine_item(request: Request) -> Response:
    who = principal_of(request)
    delivery_id = _int(request.query_params.get("delivery"))
    async with transaction(hub_of(request).sessions) as db:
        item = await state.meta_item(db, who.organisation_id, _item_id(request))
        outcome = await state.retake_outcome(db, who.organisation_id, item, delivery_id)
        await audit.record(db, who, audit.Event.READ, object_ref=f"quarantine:{item.id}",
                           detail="webhook-item in quarantaine bekeken")
    return render(request, "admin/channels_item.html", {
        "item": item, "payload": state.payload_view(item.raw), "outcome": outcome,
        "refresh": _refresh_url(request, outcome, delivery_id)})


def _refresh_url(request: Request, outcome: state.Outcome | None,
                 delivery_id: int | None) -> str:
    """Where the page looks again while the retry waits for the worker (bounded)."""
    seen = _int(request.query_params.get("n")) or 0
    if outcome is None or outcome.state != "pending" or seen >= MAX_REFRESHES:
        return ""
    return f"{REFRESH_SECONDS}; url={request.url.path}?delivery={delivery_id}&n={seen + 1}"


async def quarantine_raw(request: Request) -> Response:
    who = principal_of(request)
    async with transaction(hub_of(request).sessions) as db:
        item = await state.meta_item(db, who.organisation_id, _item_id(request))
        await audit.record(db, who, audit.Event.EXPORT, object_ref=f"quarantine:{item.id}",
                           detail="webhook-item uit quarantaine gedownload")
    return Response(item.raw, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="quarantaine-{item.id}.json"',
        "X-Content-Type-Options": "nosniff"})


async def quarantine_retry(request: Request) -> Response:
    who = principal_of(request)
    hub = hub_of(request)
    item_id = _item_id(request)
    async with unit_of_work(hub.sessions, hub.events) as db:
        await state.meta_item(db, who.organisation_id, item_id)
        delivery_id = await retake_quarantined(db, who, item_id)
    return RedirectResponse(f"{BASE}/quarantine/{item_id}?delivery={delivery_id}",
                            status_code=303)


def _item_id(request: Request) -> int:
    return int(request.path_params["channel_item_id"])


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None
