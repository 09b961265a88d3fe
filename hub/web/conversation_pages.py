"""A conversation in the staff app: read it, answer it, note, assign, snooze, link.

Every form posts to its own route and comes back to the page (303); a form that cannot be
carried out (stale version, bad upload, channel not connected) shows the page again
with the reason and what was typed. The route policy (``CONVERSATION``) has already
checked that the conversation is visible; the actions check it again in their own
transaction, write the audit line and announce the change after commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from hub.db.base import utcnow
from hub.db.engine import transaction
from hub.db.models import Client, Conversation, Message, ReadMarker
from hub.errors import ChannelError, Conflict, HubError, InvalidInput, PayloadTooLarge
from hub.events import unit_of_work
from hub.inbox import actions, dispatch
from hub.inbox.attachments import AttachmentStore
from hub.inbox.detail import Thread, ThreadItem, attachments_of, load_thread
from hub.inbox.files import ACCEPT, audit_refused_download, open_attachment
from hub.inbox.linking import link_conversation
from hub.inbox.meta_reply import reply_plan
from hub.realtime import notify
from hub.realtime.presence import Presence
from hub.resources import Resources
from hub.security import audit
from hub.security.access import visible_client_ids
from hub.security.guards import hub_of
from hub.security.policy import principal_of
from hub.security.principal import Principal
from hub.web import inbox_forms as forms
from hub.web.templates import render

# errors shown on the page itself, with the form as it was filled in
FORM_ERRORS = (InvalidInput, Conflict, ChannelError, PayloadTooLarge)


def _conversation_id(request: Request) -> int:
    return int(request.path_params["conversation_id"])


def reply_context(hub: Resources) -> dispatch.ReplyContext:
    presence = Presence(hub.redis, hub.settings.ws_heartbeat_seconds)
    return dispatch.ReplyContext(hub.settings, AttachmentStore(hub.settings.attachments_dir),
                                 presence)


async def conversation_page(request: Request) -> Response:
    return await _show(request, principal_of(request), _conversation_id(request))


async def _show(request: Request, who: Principal, conversation_id: int, *,
                error: str = "", status: int = 200, draft: str = "",
                note_draft: str = "") -> Response:
    hub = hub_of(request)
    async with unit_of_work(hub.sessions, hub.events) as db:
        thread = await load_thread(db, who, conversation_id)
        context = await _page_context(db, who, thread)
        await actions.mark_read(db, who, conversation_id, thread.conversation.last_seq)
        await notify.cancel_read(db, "staff", who.user_id or 0,
                                 f"conversation:{conversation_id}",
                                 thread.conversation.last_seq)
    context.update(error=error, draft=draft, note_draft=note_draft)
    return render(request, "inbox/conversation.html", context, status=status)


async def _page_context(db: AsyncSession, who: Principal, thread: Thread) -> dict[str, Any]:
    conversation = thread.conversation
    return {
        "thread": thread, "accept": ACCEPT,
        "reply_channels": await dispatch.reply_channels(db, who, conversation),
        "portal_read_upto": await portal_read_upto(db, conversation),
        "clients": await _client_options(db, who),
        "reply_id": forms.new_form_id(), "note_id": forms.new_form_id(),
        "snooze_default": forms.local_input_value(forms.tomorrow_morning(utcnow())),
        "reply_note": await _reply_note(db, conversation),
    }


async def _reply_note(db: AsyncSession, conversation: Conversation) -> str:
    """For WhatsApp and Messenger: what an answer typed now will do (24-hour window)."""
    if conversation.channel not in dispatch.META_CHANNELS:
        return ""
    return (await reply_plan(db, conversation)).explanation


async def portal_read_upto(db: AsyncSession, conversation: Conversation) -> int:
    """How far any portal user has read (0 outside the portal): our replies are "read"."""
    if conversation.channel != "portal":
        return 0
    return int(await db.scalar(select(func.max(ReadMarker.last_read_seq)).where(
        ReadMarker.conversation_id == conversation.id,
        ReadMarker.portal_user_id.is_not(None))) or 0)


async def _client_options(db: AsyncSession, who: Principal) -> list[tuple[str, str]]:
    rows = await db.execute(select(Client.client_number, Client.given_name, Client.family_name)
                            .where(Client.organisation_id == who.organisation_id,
                                   Client.id.in_(visible_client_ids(who)))
                            .order_by(Client.family_name, Client.given_name).limit(500))
    return [(number, f"{given} {family}") for number, given, family in rows.all()]


async def messages_fragment(request: Request) -> Response:
    """The messages after ``?after=seq``, as list items (for live updates)."""
    who = principal_of(request)
    conversation_id = _conversation_id(request)
    after = forms.optional_int(request.query_params, "after") or 0
    async with transaction(hub_of(request).sessions) as db:
        conversation = await actions.load_visible(db, who, conversation_id)
        items = await new_items(db, conversation, after, include_notes=who.is_staff)
        read_upto = await portal_read_upto(db, conversation)
        await audit.record(db, who, audit.Event.READ, client_id=conversation.client_id,
                           object_ref=f"conversation:{conversation.id}",
                           detail=f"nieuwe berichten na {after}")
    return fragment(request, items, files_url("app", conversation.id), read_upto,
                    conversation)


async def new_items(db: AsyncSession, conversation: Conversation, after: int, *,
                    include_notes: bool) -> list[ThreadItem]:
    query = select(Message).where(Message.conversation_id == conversation.id,
                                  Message.seq > after)
    if not include_notes:
        query = query.where(Message.direction != "note")
    messages = list((await db.scalars(query.order_by(Message.seq).limit(200))).all())
    files = await attachments_of(db, [m.id for m in messages])
    return [ThreadItem(m, files.get(m.id, [])) for m in messages]


def fragment(request: Request, items: list[ThreadItem], files_url: str, read_upto: int,
             conversation: Conversation, show_channel: bool = True,
             tracked: str = "out") -> HTMLResponse:
    """List items for live updates; ``tracked``: whose messages show a delivery state."""
    response = render(request, "inbox/_messages.html", {
        "items": items, "files_url": files_url, "read_upto": read_upto,
        "show_channel": show_channel, "tracked": tracked})
    response.headers["X-Conversation-Version"] = str(conversation.version)
    response.headers["X-Conversation-Status"] = conversation.status
    response.headers["Cache-Control"] = "no-store"
    return response


def files_url(area: str, conversation_id: int) -> str:
    """Where the attachments of a conversation are downloaded (``app`` or ``portal``)."""
    return f"/{area}/conversations/{conversation_id}/attachments"


def _back(conversation_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/app/conversations/{conversation_id}{anchor}", status_code=303)


async def reply(request: Request) -> Response:
    who = principal_of(request)
    conversation_id = _conversation_id(request)
    hub = hub_of(request)
    form = await forms.parse_form(request)
    text = forms.text_field(form, "text")
    try:
        files = await forms.read_uploads(form, hub.settings)
        async with unit_of_work(hub.sessions, hub.events) as db:
            message = await dispatch.send_reply(
                db, who, reply_context(hub), conversation_id, text,
                reply_id=forms.text_field(form, "reply_id") or forms.new_form_id(),
                channel=forms.text_field(form, "channel") or None, files=files)
    except FORM_ERRORS as exc:
        return await _show(request, who, conversation_id, error=exc.message,
                           status=exc.status, draft=text)
    # an answer on another channel of the client lands in that conversation: go there
    return _back(message.conversation_id, f"#m{message.seq}")


async def note(request: Request) -> Response:
    who = principal_of(request)
    conversation_id = _conversation_id(request)
    form = await forms.parse_form(request)
    text = forms.text_field(form, "text")
    hub = hub_of(request)
    try:
        async with unit_of_work(hub.sessions, hub.events) as db:
            message = await actions.add_note(db, who, conversation_id, text,
                                             note_id=forms.text_field(form, "note_id") or None)
    except FORM_ERRORS as exc:
        return await _show(request, who, conversation_id, error=exc.message,
                           status=exc.status, note_draft=text)
    return _back(conversation_id, f"#m{message.seq}")


async def assign(request: Request) -> Response:
    async def work(db: AsyncSession, who: Principal, form: Any, cid: int, version: int) -> None:
        await actions.assign(db, who, cid, version,
                             staff_id=forms.optional_int(form, "staff_id"),
                             team_id=forms.optional_int(form, "team_id"))
    return await _state_change(request, work)


async def change_status(request: Request) -> Response:
    async def work(db: AsyncSession, who: Principal, form: Any, cid: int, version: int) -> None:
        status = forms.text_field(form, "status")
        until = forms.local_moment(forms.text_field(form, "until")) \
            if status == "snoozed" else None
        await actions.set_status(db, who, cid, version, status, snooze_until=until)
    return await _state_change(request, work)


async def link(request: Request) -> Response:
    async def work(db: AsyncSession, who: Principal, form: Any, cid: int, version: int) -> None:
        if forms.text_field(form, "unlink"):
            await actions.link_client(db, who, cid, version, None)
            return
        client_id = await _client_by_number(db, who, forms.text_field(form, "client_number"))
        # also remembers the sender's address as a contact of the client
        await link_conversation(db, who, cid, client_id, seen_version=version)
    return await _state_change(request, work)


async def _client_by_number(db: AsyncSession, who: Principal, number: str) -> int:
    found = await db.scalar(select(Client.id).where(
        Client.organisation_id == who.organisation_id, Client.client_number == number.strip(),
        Client.id.in_(visible_client_ids(who))))
    if found is None:
        raise InvalidInput("Geen cliënt met dit nummer in uw caseload.", field="client_number")
    return int(found)


async def _state_change(request: Request, work: Any) -> Response:
    """Run ``work`` with the form's version; a stale form shows the newer state instead."""
    who = principal_of(request)
    conversation_id = _conversation_id(request)
    form = await forms.parse_form(request)
    hub = hub_of(request)
    try:
        version = forms.int_field(form, "version")
        async with unit_of_work(hub.sessions, hub.events) as db:
            await work(db, who, form, conversation_id, version)
    except FORM_ERRORS as exc:
        return await _show(request, who, conversation_id, error=exc.message, status=exc.status)
    return _back(conversation_id)


async def mark_read(request: Request) -> Response:
    """The page saw messages up to ``seq`` while open (live updates)."""
    who = principal_of(request)
    conversation_id = _conversation_id(request)
    form = await forms.parse_form(request)
    seq = forms.int_field(form, "seq")
    hub = hub_of(request)
    async with unit_of_work(hub.sessions, hub.events) as db:
        conversation = await actions.load_visible(db, who, conversation_id)
        position = await actions.mark_read(db, who, conversation.id,
                                           min(seq, conversation.last_seq))
        await notify.cancel_read(db, "staff", who.user_id or 0,
                                 f"conversation:{conversation.id}", position)
    return JSONResponse({"seq": position})


async def download(request: Request) -> Response:
    """An attachment of this conversation; refusals are audited too."""
    return await send_attachment(request, principal_of(request))


async def send_attachment(request: Request, who: Principal) -> Response:
    hub = hub_of(request)
    store = AttachmentStore(hub.settings.attachments_dir)
    attachment_id = int(request.path_params["attachment_id"])
    try:
        async with transaction(hub.sessions) as db:
            got = await open_attachment(db, who, store, attachment_id,
                                        _conversation_id(request))
    except HubError:
        async with transaction(hub.sessions) as db:
            await audit_refused_download(db, who, attachment_id)
        raise
    return Response(got.data, media_type=got.media_type, headers=got.headers)
