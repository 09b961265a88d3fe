"""Facebook Messenger (a Facebook Page): webhook events in, text messages out.

A webhook body is ``{"object": "page", "entry": [...]}``; every entry is one page
(``id``) with a list of ``messaging`` events (``standby`` when another app owns the
thread: the person's messages still count). An event holds one of ``message``,
``delivery`` (``mids`` and/or a ``watermark``), ``read`` (a ``watermark``), ``postback`` or
``reaction``. Every event of every entry is read; one that cannot be read is handed back
as ``Rejected`` and the others go on.

The page receives a copy of every message it sends (``message.is_echo``). Ours carry the
``metadata`` we sent (``zh:<message id>``), so the inbox recognises them and stores no
second copy; echoes of messages sent from elsewhere (Meta Business Suite) are kept as
outbound messages so the conversation is complete.

Sending goes to ``POST /{page_id}/messages`` (the Send API): ``messaging_type`` RESPONSE
within 24 hours of the person's last message, otherwise MESSAGE_TAG with a tag.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hub.channels.graph import GraphClient
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

CHANNEL = "messenger"
FILE_KINDS = {"image": "image", "video": "video", "audio": "audio", "file": "document"}
RESPONSE = "RESPONSE"
MESSAGE_TAG = "MESSAGE_TAG"


def parse_webhook(payload: Any) -> Batch:
    """Every message, delivery and read event in a webhook body, in order."""
    body = dict_of(payload)
    if body.get("object") != "page" or not isinstance(body.get("entry"), list):
        raise Unreadable("geen Messenger-webhook (object/entry ontbreekt)")
    batch = Batch()
    for entry in body["entry"]:
        entry = dict_of(entry)
        page = str(entry.get("id") or "")
        for event in list_of(entry.get("messaging")) + list_of(entry.get("standby")):
            wrapped = envelope(page, entry.get("time"), event)
            try:
                _read_event(batch, page, event, wrapped)
            except ValueError as exc:
                batch.rejected.append(Rejected(CHANNEL, page, str(exc), wrapped))
    return batch


def envelope(page: str, time: Any, event: Any) -> dict[str, Any]:
    """A webhook body holding only ``event``: what the quarantine keeps, so that taking a
    quarantined item in again is replaying one small delivery."""
    return {"object": "page", "entry": [{"id": page, "time": time, "messaging": [event]}]}


def _read_event(batch: Batch, page: str, event: Any, wrapped: dict[str, Any]) -> None:
    if not isinstance(event, dict):
        raise ValueError("event is geen object")
    if not page:
        raise ValueError("entry.id (de pagina) ontbreekt")
    if "message" in event:
        batch.items.append(_message(page, event))
    elif "delivery" in event or "read" in event:
        batch.statuses.append(dataclasses.replace(_receipt(page, event), raw=wrapped))
        return
    elif "postback" in event:
        batch.items.append(_postback(page, event))
    elif "reaction" in event:
        batch.items.append(_reaction(page, event))
    else:
        return  # opt-ins, referrals, handovers and the like are not conversation items
    batch.items[-1].raw = wrapped


def _parties(event: dict[str, Any]) -> tuple[str, str]:
    sender = required_id(dict_of(event.get("sender")).get("id"), "sender.id")
    recipient = required_id(dict_of(event.get("recipient")).get("id"), "recipient.id")
    return sender, recipient


def _message(page: str, event: dict[str, Any]) -> InboundItem:
    sender, recipient = _parties(event)
    message = dict_of(event.get("message"))
    echo = message.get("is_echo") is True
    item = InboundItem(
        channel=CHANNEL, account_id=page, external_id=required_id(message.get("mid"), "mid"),
        party=recipient if echo else sender, kind="text", text=text_of(message.get("text")),
        timestamp=from_epoch(event.get("timestamp"), millis=True), echo=echo,
        echo_metadata=text_of(message.get("metadata")),
        reply_to=text_of(dict_of(message.get("reply_to")).get("mid")))
    for attachment in list_of(message.get("attachments")):
        _attachment(item, dict_of(attachment))
    return item


def _attachment(item: InboundItem, attachment: dict[str, Any]) -> None:
    kind = str(attachment.get("type") or "")
    payload = dict_of(attachment.get("payload"))
    if kind in FILE_KINDS and isinstance(payload.get("url"), str):
        item.media.append(MediaRef(kind=FILE_KINDS[kind], url=payload["url"]))
        item.kind = item.kind if item.text else FILE_KINDS[kind]
    elif kind == "location":
        point = dict_of(payload.get("coordinates"))
        item.text = f"Locatie: {point.get('lat')}, {point.get('long')}"
    elif kind == "fallback":
        item.text = " ".join(t for t in (item.text, text_of(attachment.get("title")),
                                         text_of(payload.get("url"))) if t)
    else:
        item.text = item.text or f"[Messenger-bijlage van het type {kind[:40]!r}]"


def _receipt(page: str, event: dict[str, Any]) -> StatusItem:
    sender, _ = _parties(event)
    delivered = "delivery" in event
    part = dict_of(event.get("delivery" if delivered else "read"))
    mids = tuple(m for m in list_of(part.get("mids")) if isinstance(m, str) and m)
    watermark = from_epoch(part.get("watermark"), millis=True)
    if not mids and watermark is None:
        raise ValueError("ontvangstbevestiging zonder mids of watermark")
    return StatusItem(channel=CHANNEL, account_id=page,
                      status="delivered" if delivered else "read", party=sender,
                      remote_ids=mids, watermark=watermark)


def _postback(page: str, event: dict[str, Any]) -> InboundItem:
    sender, _ = _parties(event)
    postback = dict_of(event.get("postback"))
    stamp = event.get("timestamp")
    mid = text_of(postback.get("mid")) or f"postback:{sender}:{stamp}"
    return InboundItem(channel=CHANNEL, account_id=page, external_id=mid, party=sender,
                       kind="postback", timestamp=from_epoch(stamp, millis=True),
                       text=text_of(postback.get("title")) or text_of(postback.get("payload")))


def _reaction(page: str, event: dict[str, Any]) -> InboundItem:
    sender, _ = _parties(event)
    reaction = dict_of(event.get("reaction"))
    target = required_id(reaction.get("mid"), "reaction.mid")
    # a reaction has no id of its own: the target, who and when make one
    stamp = event.get("timestamp")
    emoji = "" if reaction.get("action") == "unreact" else text_of(reaction.get("emoji"))
    return InboundItem(channel=CHANNEL, account_id=page, party=sender, kind="reaction",
                       external_id=f"reaction:{target}:{sender}:{stamp}", text=emoji,
                       reaction_to=target, timestamp=from_epoch(stamp, millis=True))


class MessengerSender:
    """Sends as one Facebook Page (its ``page_id``) with the page's access token."""

    def __init__(self, graph: GraphClient, page_id: str) -> None:
        self.graph = graph
        self.page_id = page_id

    async def send_text(self, psid: str, text: str, *, messaging_type: str = RESPONSE,
                        tag: str | None = None, metadata: str = "") -> str:
        if messaging_type == MESSAGE_TAG and not tag:
            raise ValueError("MESSAGE_TAG needs a tag")
        message: dict[str, Any] = {"text": text}
        if metadata:
            message["metadata"] = metadata
        body: dict[str, Any] = {"recipient": {"id": psid}, "messaging_type": messaging_type,
                                "message": message}
        if messaging_type == MESSAGE_TAG:
            body["tag"] = tag
        answer = await self.graph.post(self.page_id, "messages", body=body)
        sent = answer.get("message_id")
        if not isinstance(sent, str) or not sent:
            raise ChannelError("Messenger gaf geen bericht-id terug", answer=str(answer)[:300])
        return sent

    async def fetch_file(self, url: str, *, limit: int) -> bytes:
        """A file someone sent: Messenger's CDN links need no token."""
        return await self.graph.download(url, limit=limit, authorised=False)
