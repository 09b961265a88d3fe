"""The client portal's conversations: read, write (with attachments), live, with receipts.

A portal user acts on behalf of a client (NEN 7513 "on whose behalf": their relation),
so every audit line here carries that. Opening a conversation reads it: staff replies up
to the end become ``read`` (staff see that live) and a pending "new message" email for
it is cancelled. Sending works as a plain form (303 back to the page) and, from the
page's script, as a fetch that gets JSON back.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from hub.channels import portal
from hub.db.engine import transaction
from hub.db.models import Client, Conversation, ReadMarker
from hub.errors import NotFound
from hub.events import unit_of_work
from hub.inbox import actions
from hub.inbox.attachments import AttachmentStore
from hub.inbox.detail import load_thread
from hub.inbox.files import ACCEPT
from hub.inbox.queries import decorate, visible_conversations
from hub.realtime import notify
from hub.security import audit
from hub.security.guards import hub_of
from hub.security.policy import principal_of
from hub.security.principal import Principal
from hub.web import inbox_forms as forms
from hub.web.conversation_pages import (
    FORM_ERRORS,
    files_url,
    fragment,
    new_items,
    send_attachment,
)
from hub.web.errors import wants_json
from hub.web.portal_pages import linked_clients, on_behalf
from hub.web.templates import render

HOME_TEMPLATE = "portal/home.html"
CONVERSATION_TEMPLATE = "portal/conversation.html"


def _conversation_id(request: Request) -> int:
    return int(request.path_params["conversation_id"])


async def _acting(db: AsyncSession, who: Principal, client_id: int | None) -> Principal:
    """``who`` on behalf of the client (their relation to it), for the audit log."""
    for client, relation in await linked_clients(db, who):
        if client.id == client_id:
            return on_behalf(who, relation, client)
    raise NotFound("Dit gesprek bestaat niet.")


async def home(request: Request, *, error: str = "", status: int = 200,
               draft: dict[str, str] | None = None) -> Response:
    who = principal_of(request)
    async with transaction(hub_of(request).sessions) as db:
        clients = await linked_clients(db, who)
        found = await db.scalars(visible_conversations(who).limit(100))
        rows = await decorate(db, who, list(found.all()))
        for client, relation in clients:
            await audit.record(db, on_behalf(who, relation, client), audit.Event.SEARCH,
                               client_id=client.id, object_ref="portal-conversations")
    return render(request, HOME_TEMPLATE, {
        "clients": clients, "rows": rows, "names": {c.id: c.full_name for c, _ in clients},
        "client_msg_id": forms.new_form_id(), "accept": ACCEPT, "error": error,
        "draft": draft or {}}, status=status)


async def start_conversation(request: Request) -> Response:
    """A new conversation from the portal's "new message" form."""
    who = principal_of(request)
    hub = hub_of(request)
    form = await forms.parse_form(request)
    draft = {k: forms.text_field(form, k) for k in ("subject", "text")}
    try:
        files = await forms.read_uploads(form, hub.settings)
        async with unit_of_work(hub.sessions, hub.events) as db:
            client_id = forms.optional_int(form, "client_id") or await portal.only_client(db, who)
            acting = await _acting(db, who, client_id)
            message = await portal.receive(
                db, acting, text=draft["text"], subject=draft["subject"], new=True,
                client_id=client_id, client_msg_id=forms.text_field(form, "client_msg_id"),
                files=files, store=AttachmentStore(hub.settings.attachments_dir))
    except FORM_ERRORS as exc:
        if wants_json(request):
            return JSONResponse(exc.to_json(), status_code=exc.status)
        return await home(request, error=exc.message, status=exc.status, draft=draft)
    return _sent(request, message.conversation_id, message.id, message.seq)


def _sent(request: Request, conversation_id: int, message_id: int, seq: int) -> Response:
    if wants_json(request) or "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"conversation_id": conversation_id, "id": message_id,
                             "seq": seq}, status_code=201)
    return RedirectResponse(f"/portal/conversations/{conversation_id}#m{seq}", status_code=303)


async def conversation_page(request: Request, *, error: str = "", status: int = 200,
                            draft: str = "") -> Response:
    who = principal_of(request)
    conversation_id = _conversation_id(request)
    hub = hub_of(request)
    async with unit_of_work(hub.sessions, hub.events) as db:
        conversation = await actions.load_visible(db, who, conversation_id)
        acting = await _acting(db, who, conversation.client_id)
        thread = await load_thread(db, acting, conversation_id)
        await _read(db, who, conversation, conversation.last_seq)
        client = await db.get(Client, conversation.client_id)
        staff_read = await staff_read_upto(db, conversation)
    return render(request, CONVERSATION_TEMPLATE, {
        "thread": thread, "conversation": thread.conversation, "client": client,
        "staff_read_upto": staff_read, "client_msg_id": forms.new_form_id(),
        "files_url": files_url("portal", conversation_id),
        "accept": ACCEPT, "error": error, "draft": draft}, status=status)


async def _read(db: AsyncSession, who: Principal, conversation: Conversation,
                seq: int) -> int:
    position = await portal.read_up_to(db, who, conversation.id, seq)
    await notify.cancel_read(db, "portal", who.user_id or 0,
                             f"conversation:{conversation.id}", position)
    return position


async def staff_read_upto(db: AsyncSession, conversation: Conversation) -> int:
    """How far any colleague has read: the portal user's own messages up to it are read."""
    return int(await db.scalar(select(func.max(ReadMarker.last_read_seq)).where(
        ReadMarker.conversation_id == conversation.id,
        ReadMarker.staff_id.is_not(None))) or 0)


async def send_message(request: Request) -> Response:
    who = principal_of(request)
    conversation_id = _conversation_id(request)
    hub = hub_of(request)
    form = await forms.parse_form(request)
    text = forms.text_field(form, "text")
    try:
        files = await forms.read_uploads(form, hub.settings)
        async with unit_of_work(hub.sessions, hub.events) as db:
            conversation = await actions.load_visible(db, who, conversation_id)
            acting = await _acting(db, who, conversation.client_id)
            message = await portal.receive(
                db, acting, text=text, conversation_id=conversation_id, files=files,
                client_msg_id=forms.text_field(form, "client_msg_id"),
                store=AttachmentStore(hub.settings.attachments_dir))
    except FORM_ERRORS as exc:
        if wants_json(request):
            return JSONResponse(exc.to_json(), status_code=exc.status)
        return await conversation_page(request, error=exc.message, status=exc.status,
                                       draft=text)
    return _sent(request, conversation_id, message.id, message.seq)


async def messages_fragment(request: Request) -> Response:
    who = principal_of(request)
    after = forms.optional_int(request.query_params, "after") or 0
    async with transaction(hub_of(request).sessions) as db:
        conversation = await actions.load_visible(db, who, _conversation_id(request))
        items = await new_items(db, conversation, after, include_notes=False)
        acting = await _acting(db, who, conversation.client_id)
        await audit.record(db, acting, audit.Event.READ, client_id=conversation.client_id,
                           object_ref=f"conversation:{conversation.id}",
                           detail=f"nieuwe berichten na {after}")
        read_upto = await staff_read_upto(db, conversation)
    return fragment(request, items, files_url("portal", conversation.id), read_upto,
                    conversation, show_channel=False, tracked="in")


async def mark_read(request: Request) -> Response:
    who = principal_of(request)
    form = await forms.parse_form(request)
    hub = hub_of(request)
    async with unit_of_work(hub.sessions, hub.events) as db:
        conversation = await actions.load_visible(db, who, _conversation_id(request))
        position = await _read(db, who, conversation, forms.int_field(form, "seq"))
    return JSONResponse({"seq": position})


async def download(request: Request) -> Response:
    return await send_attachment(request, principal_of(request))

