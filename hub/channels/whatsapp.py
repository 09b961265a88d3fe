"""WhatsApp Business (Cloud API): webhook payloads in, text and template messages out.

A webhook body is ``{"object": "whatsapp_business_account", "entry": [...]}``; every entry
has ``changes``, every change a ``value`` with ``metadata.phone_number_id`` (our number),
``contacts`` (profile names by ``wa_id``), ``messages`` and ``statuses``. Meta batches:
one body may hold several entries, changes, messages and statuses, and every one of them
is read here (Chatwoot read only the first and lost messages, their issue #13556). An
item that cannot be read is handed back as ``Rejected`` and the others go on.

Sending goes to ``POST /{phone_number_id}/messages``. Our own message id travels along as
``biz_opaque_callback_data``, which Meta repeats in the status webhooks, so a status that
overtakes the send job's commit still finds its message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.channels.graph import GraphClient, MediaInfo
from hub.channels.items import (
    Batch,
    InboundItem,
    MediaRef,
    Rejected,
    StatusItem,
    Unreadable,
    dict_of,
    from_epoch,
    list_of,
    required_id,
    text_of,
)
from hub.errors import ChannelError

CHANNEL = "whatsapp"
MEDIA_KINDS = ("image", "document", "audio", "video", "sticker")


def parse_webhook(payload: Any) -> Batch:
    """Every message and status in a webhook body, in order."""
    body = dict_of(payload)
    if body.get("object") != "whatsapp_business_account" or not isinstance(
            body.get("entry"), list):
        raise Unreadable("geen WhatsApp Business-webhook (object/entry ontbreekt)")
    batch = Batch()
    for entry in body["entry"]:
        entry = dict_of(entry)
        for change in list_of(entry.get("changes")):
            _read_change(batch, str(entry.get("id") or ""), dict_of(change))
    return batch


def envelope(entry_id: str, value: dict[str, Any], key: str, item: Any) -> dict[str, Any]:
    """A webhook body holding only ``item``: what the quarantine keeps, so that taking a
    quarantined item in again is replaying one small delivery."""
    head = {k: v for k, v in value.items() if k not in ("messages", "statuses")}
    return {"object": "whatsapp_business_account", "entry": [{"id": entry_id, "changes": [
        {"field": "messages", "value": {**head, key: [item]}}]}]}


def _read_change(batch: Batch, entry_id: str, change: dict[str, Any]) -> None:
    if change.get("field", "messages") != "messages":
        return  # template, quality and account updates are not conversation items
    value = dict_of(change.get("value"))
    account = dict_of(value.get("metadata")).get("phone_number_id")
    if not isinstance(account, str | int) or not str(account):
        batch.rejected.append(Rejected(
            CHANNEL, "", "metadata.phone_number_id ontbreekt",
            {"object": "whatsapp_business_account",
             "entry": [{"id": entry_id, "changes": [change]}]}))
        return
    account = str(account)
    names = _profile_names(value)
    for raw in list_of(value.get("messages")):
        wrapped = envelope(entry_id, value, "messages", raw)
        try:
            batch.items.append(_message(account, _object(raw), names, wrapped))
        except ValueError as exc:
            batch.rejected.append(Rejected(CHANNEL, account, str(exc), wrapped))
    for raw in list_of(value.get("statuses")):
        wrapped = envelope(entry_id, value, "statuses", raw)
        try:
            batch.statuses.append(_status(account, _object(raw), wrapped))
        except ValueError as exc:
            batch.rejected.append(Rejected(CHANNEL, account, str(exc), wrapped))


def _object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError("item is geen object")
    return raw


def _profile_names(value: dict[str, Any]) -> dict[str, str]:
    names = {}
    for contact in list_of(value.get("contacts")):
        contact = dict_of(contact)
        name = text_of(dict_of(contact.get("profile")).get("name"))
        if isinstance(contact.get("wa_id"), str) and name:
            names[contact["wa_id"]] = name[:200]
    return names


def _message(account: str, raw: dict[str, Any], names: dict[str, str],
             wrapped: dict[str, Any]) -> InboundItem:
    sender = required_id(raw.get("from"), "from")
    kind = str(raw["type"]) if isinstance(raw.get("type"), str) else "unsupported"
    item = InboundItem(
        channel=CHANNEL, account_id=account, external_id=required_id(raw.get("id"), "id"),
        party=sender, kind=kind, timestamp=from_epoch(raw.get("timestamp")),
        profile_name=names.get(sender, ""), raw=wrapped,
        reply_to=text_of(dict_of(raw.get("context")).get("id")))
    _READERS.get(kind, _unsupported)(item, raw)
    return item


def _text(item: InboundItem, raw: dict[str, Any]) -> None:
    item.text = text_of(dict_of(raw.get("text")).get("body"))


def _media(item: InboundItem, raw: dict[str, Any]) -> None:
    part = dict_of(raw.get(item.kind))
    item.media.append(MediaRef(
        kind=item.kind, media_id=required_id(part.get("id"), f"{item.kind}.id"),
        mime_type=text_of(part.get("mime_type"))[:120],
        filename=text_of(part.get("filename"))[:255]))
    item.text = text_of(part.get("caption"))


def _interactive(item: InboundItem, raw: dict[str, Any]) -> None:
    part = dict_of(raw.get("interactive"))
    reply = dict_of(part.get("button_reply") or part.get("list_reply"))
    item.text = " - ".join(t for t in (text_of(reply.get("title")),
                                       text_of(reply.get("description"))) if t)


def _button(item: InboundItem, raw: dict[str, Any]) -> None:
    part = dict_of(raw.get("button"))
    item.text = text_of(part.get("text")) or text_of(part.get("payload"))


def _reaction(item: InboundItem, raw: dict[str, Any]) -> None:
    part = dict_of(raw.get("reaction"))
    # an empty emoji takes an earlier reaction back
    item.text = text_of(part.get("emoji"))
    item.reaction_to = text_of(part.get("message_id"))


def _location(item: InboundItem, raw: dict[str, Any]) -> None:
    part = dict_of(raw.get("location"))
    place = ", ".join(t for t in (text_of(part.get("name")), text_of(part.get("address"))) if t)
    where = f"{part.get('latitude')}, {part.get('longitude')}"
    item.text = f"Locatie: {place} ({where})" if place else f"Locatie: {where}"


def _contacts(item: InboundItem, raw: dict[str, Any]) -> None:
    cards = []
    for card in list_of(raw.get("contacts")):
        card = dict_of(card)
        name = text_of(dict_of(card.get("name")).get("formatted_name"))
        phones = [text_of(dict_of(p).get("phone")) for p in list_of(card.get("phones"))]
        cards.append(" ".join([name, *[p for p in phones if p]]).strip())
    item.text = "Contactkaart: " + "; ".join(c for c in cards if c)


def _system(item: InboundItem, raw: dict[str, Any]) -> None:
    item.text = text_of(dict_of(raw.get("system")).get("body"))


def _unsupported(item: InboundItem, raw: dict[str, Any]) -> None:
    errors = [dict_of(e) for e in list_of(raw.get("errors"))]
    why = "; ".join(text_of(e.get("title") or e.get("message")) for e in errors)
    item.kind = "unsupported"
    reason = f": {why}" if why else ""
    item.text = f"[Dit soort WhatsApp-bericht kan hier niet worden getoond{reason}]"


_READERS: dict[str, Callable[[InboundItem, dict[str, Any]], None]] = {
    "text": _text, **dict.fromkeys(MEDIA_KINDS, _media), "interactive": _interactive,
    "button": _button, "reaction": _reaction, "location": _location,
    "contacts": _contacts, "system": _system,
}


def _status(account: str, raw: dict[str, Any], wrapped: dict[str, Any]) -> StatusItem:
    errors = [dict_of(e) for e in list_of(raw.get("errors"))]
    return StatusItem(
        channel=CHANNEL, account_id=account, status=text_of(raw.get("status")),
        party=text_of(raw.get("recipient_id")),
        remote_ids=(required_id(raw.get("id"), "status id"),),
        error="; ".join(_error_text(e) for e in errors) or None,
        callback=text_of(raw.get("biz_opaque_callback_data")), raw=wrapped)


def _error_text(error: dict[str, Any]) -> str:
    text = text_of(error.get("message")) or text_of(error.get("title")) or "onbekende fout"
    details = text_of(dict_of(error.get("error_data")).get("details"))
    if details and details != text:
        text = f"{text}: {details}"
    return f"{text} (Meta-code {error.get('code')})" if error.get("code") else text


class WhatsAppSender:
    """Sends from one WhatsApp Business number (its ``phone_number_id``)."""

    def __init__(self, graph: GraphClient, phone_number_id: str) -> None:
        self.graph = graph
        self.phone_number_id = phone_number_id

    async def send_text(self, to: str, body: str, *, reference: str = "") -> str:
        """A free-form text (only within 24 hours of the person's last message)."""
        return await self._send(to, {"type": "text",
                                     "text": {"preview_url": False, "body": body}}, reference)

    async def send_template(self, to: str, name: str, language: str, link: str, *,
                            reference: str = "") -> str:
        """An approved template whose body has one parameter: ``link``."""
        template = {"name": name, "language": {"code": language}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": link}]}]}
        return await self._send(to, {"type": "template", "template": template}, reference)

    async def _send(self, to: str, content: dict[str, Any], reference: str) -> str:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                **content}
        if reference:
            body["biz_opaque_callback_data"] = reference
        answer = await self.graph.post(self.phone_number_id, "messages", body=body)
        sent = dict_of((list_of(answer.get("messages")) or [{}])[0]).get("id")
        if not isinstance(sent, str) or not sent:
            raise ChannelError("WhatsApp gaf geen bericht-id terug", answer=str(answer)[:300])
        return sent

    async def fetch_media(self, media_id: str, *, limit: int) -> tuple[MediaInfo, bytes]:
        """``GET /{media-id}`` for the URL, then the bytes with our bearer token."""
        info = await self.graph.media(media_id)
        return info, await self.graph.download(info.url, limit=limit)
