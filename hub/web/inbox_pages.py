"""The staff app's inbox list, search, client record and the canned-reply admin.

Each page reads through ``hub.inbox`` / ``hub.search`` (which apply the access rules) and
writes its audit line in the same transaction: the list and the search say which
clients' conversations they showed, the client record that it was opened.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.db.engine import transaction
from hub.db.models import Client
from hub.db.models.clients import Relation
from hub.errors import InvalidInput
from hub.inbox import canned
from hub.inbox.client_record import load_client_record
from hub.inbox.queries import (
    CHANNELS,
    COUNT_CAP,
    InboxFilter,
    InboxPage,
    inbox_page,
    unread_counts,
)
from hub.search import search
from hub.search.terms import usable
from hub.security import audit
from hub.security.access import can_see_client
from hub.security.guards import hub_of
from hub.security.policy import principal_of
from hub.security.principal import Principal
from hub.web import catalogue_inbox as _catalogue  # noqa: F401  (registers English)
from hub.web import inbox_forms as forms
from hub.web.templates import render

SCOPES = (("all", "Alles"), ("mine", "Mijn gesprekken"), ("team", "Mijn team"),
          ("unassigned", "Niet toegewezen"))
STATUSES = (("open", "Open"), ("pending", "Wacht op antwoord"), ("snoozed", "Gesluimerd"),
            ("resolved", "Afgehandeld"), ("all", "Alle statussen"))


async def _page(request: Request) -> tuple[InboxFilter, str | None, InboxPage, Any]:
    who = principal_of(request)
    flt = InboxFilter.from_params(request.query_params)
    after = request.query_params.get("after") or None
    async with transaction(hub_of(request).sessions) as db:
        page = await inbox_page(db, who, flt, after)
        await _audit_list(db, who, page)
        client_name = ""
        if flt.client_id is not None and await can_see_client(db, who, flt.client_id):
            client = await db.get(Client, flt.client_id)
            client_name = client.full_name if client else ""
        counts = await unread_counts(db, who)
    return flt, after, page, {"client_name": client_name, "counts": counts}


async def _audit_list(db: Any, who: Principal, page: InboxPage) -> None:
    shown = sorted({r.conversation.client_id for r in page.rows if r.conversation.client_id})
    await audit.record(db, who, audit.Event.SEARCH, object_ref="inbox",
                       detail=f"{len(page.rows)} gesprekken; cliënten {shown}")


async def inbox(request: Request) -> Response:
    flt, after, page, extra = await _page(request)
    return render(request, "inbox/list.html", {
        "flt": flt, "after": after, "page": page, "scopes": SCOPES, "statuses": STATUSES,
        "channels": CHANNELS, "cap": COUNT_CAP, "filter_params": flt.as_params(), **extra})


async def inbox_rows(request: Request) -> Response:
    """The first page's rows only (the live list swaps them in)."""
    _flt, _after, page, _extra = await _page(request)
    response = render(request, "inbox/_rows.html", {"page": page})
    response.headers["Cache-Control"] = "no-store"
    return response


async def search_page(request: Request) -> Response:
    who = principal_of(request)
    query = (request.query_params.get("q") or "").strip()[:200]
    results = None
    if usable(query):
        async with transaction(hub_of(request).sessions) as db:
            results = await search(db, who, query)
    return render(request, "inbox/search.html", {"query": query, "results": results})


async def client_page(request: Request) -> Response:
    who = principal_of(request)
    client_id = int(request.path_params["client_id"])
    async with transaction(hub_of(request).sessions) as db:
        record = await load_client_record(db, who, client_id)
    return render(request, "inbox/client.html", {
        "record": record, "relations": [r.value for r in Relation],
        "emergency": who.role == "admin"})


async def canned_page(request: Request, *, error: str = "", status: int = 200,
                      draft: tuple[str, str] = ("", "")) -> Response:
    who = principal_of(request)
    async with transaction(hub_of(request).sessions) as db:
        replies = await canned.list_replies(db, who)
    return render(request, "inbox/canned.html", {
        "replies": replies, "error": error, "draft_title": draft[0], "draft_body": draft[1]},
        status=status)


async def canned_create(request: Request) -> Response:
    who = principal_of(request)
    form = await forms.parse_form(request)
    title, body = forms.text_field(form, "title"), forms.text_field(form, "body")
    try:
        async with transaction(hub_of(request).sessions) as db:
            await canned.create_reply(db, who, title, body)
    except InvalidInput as exc:
        return await canned_page(request, error=exc.message, status=exc.status,
                                 draft=(title, body))
    return RedirectResponse("/app/admin/canned-replies", status_code=303)


async def canned_change(request: Request) -> Response:
    who = principal_of(request)
    reply_id = int(request.path_params["reply_id"])
    form = await forms.parse_form(request)
    try:
        async with transaction(hub_of(request).sessions) as db:
            if forms.text_field(form, "delete"):
                await canned.delete_reply(db, who, reply_id)
            else:
                await canned.update_reply(db, who, reply_id, forms.text_field(form, "title"),
                                          forms.text_field(form, "body"))
    except InvalidInput as exc:
        return await canned_page(request, error=exc.message, status=exc.status)
    return RedirectResponse("/app/admin/canned-replies", status_code=303)

