"""The files people send over WhatsApp and Messenger, fetched before they are stored.

Downloading happens outside the database transaction (a slow CDN must not hold locks)
and only for messages not stored yet, so Meta's redeliveries download nothing twice.
WhatsApp names a media id: ``GET /{media-id}`` gives a short-lived URL, fetched with the
number's bearer token. Messenger gives the CDN URL itself, fetched without a token.

A file over ``settings.max_attachment_bytes`` or one Meta refuses for good (an expired
media id) is listed on the message as skipped, with the reason, and the message is
stored without it. A passing failure (network, 5xx, throttling) is reported to the
caller, which retries the job; on its last try the file is listed as skipped as well.
"""

from __future__ import annotations

import mimetypes
import re
from collections import defaultdict
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.channels.graph import GraphClient, describe
from hub.channels.items import Batch, InboundItem, MediaRef
from hub.channels.messenger import MessengerSender
from hub.channels.whatsapp import WhatsAppSender
from hub.db.models import ChannelAccount, Message
from hub.errors import ChannelError, DeliveryFailed, PayloadTooLarge
from hub.inbox.attachments import FileData
from hub.inbox.meta_ingest import Downloads
from hub.settings import Settings

NAMES = {"image": "afbeelding", "audio": "geluidsbericht", "video": "video",
         "document": "document", "sticker": "sticker"}
_MIME = re.compile(r"^[a-z0-9.+-]+/[a-z0-9.+-]+$")


async def known_ids(session: AsyncSession, batch: Batch,
                    accounts: dict[str, ChannelAccount]) -> set[str]:
    """External ids of the batch's messages that are stored already."""
    wanted = [i.external_id for i in batch.items if i.media]
    orgs = {a.organisation_id for a in accounts.values()}
    if not wanted or not orgs:
        return set()
    rows = await session.scalars(select(Message.external_id).where(
        Message.organisation_id.in_(orgs), Message.external_id.in_(wanted)))
    return set(rows.all())


async def fetch_media(http: httpx.AsyncClient, settings: Settings, batch: Batch,
                      accounts: dict[str, ChannelAccount], skip: set[str], *,
                      give_up: bool) -> tuple[Downloads, str | None]:
    """The files of the batch's new messages; (downloads, first passing failure or None).

    With ``give_up`` a passing failure lists the file as skipped instead.
    """
    downloads = Downloads(files=defaultdict(list), skipped=defaultdict(list))
    for item in batch.items:
        account = accounts.get(item.account_id)
        if not item.media or item.external_id in skip or account is None:
            continue
        graph = GraphClient(http, account.access_token, base_url=settings.graph_api_url,
                            timeout=settings.graph_timeout_seconds)
        for ref in item.media:
            failure = await _fetch_one(graph, account, item, ref, settings, downloads,
                                       give_up)
            if failure:
                return downloads, failure
    return downloads, None


async def _fetch_one(graph: GraphClient, account: ChannelAccount, item: InboundItem,
                     ref: MediaRef, settings: Settings, downloads: Downloads,
                     give_up: bool) -> str | None:
    limit = settings.max_attachment_bytes
    name = ref.filename or NAMES.get(ref.kind, "bijlage")
    try:
        data, mime = await _download(graph, account, ref, limit)
    except PayloadTooLarge as exc:
        _skip(downloads, item, name, exc.fields.get("size"), "groter dan de ingestelde "
              f"grens van {limit} bytes")
    except DeliveryFailed as exc:
        _skip(downloads, item, name, None, f"kon niet worden opgehaald: {describe(exc)}")
    except ChannelError as exc:
        if not give_up:
            return str(exc)
        _skip(downloads, item, name, None, f"kon niet worden opgehaald: {describe(exc)}")
    else:
        downloads.files[item.external_id].append(
            FileData(filename=_filename(name, ref.filename, mime), content_type=mime,
                     data=data))
    return None


async def _download(graph: GraphClient, account: ChannelAccount, ref: MediaRef,
                    limit: int) -> tuple[bytes, str]:
    if ref.media_id:
        sender = WhatsAppSender(graph, account.external_account_id)
        info, data = await sender.fetch_media(ref.media_id, limit=limit)
        return data, _mime(ref.mime_type or info.mime_type)
    data = await MessengerSender(graph, account.external_account_id).fetch_file(
        ref.url, limit=limit)
    return data, _mime(ref.mime_type or mimetypes.guess_type(ref.url.split("?")[0])[0] or "")


def _mime(value: str) -> str:
    # WhatsApp adds parameters ("audio/ogg; codecs=opus"); keep the bare type
    bare = value.split(";")[0].strip().lower()
    return bare if _MIME.match(bare) else "application/octet-stream"


def _filename(name: str, given: str, mime: str) -> str:
    if given:
        return given[:255]
    extension = mimetypes.guess_extension(mime) or ""
    return f"{name}{extension}"[:255]


def _skip(downloads: Downloads, item: InboundItem, name: str, size: Any, reason: str) -> None:
    downloads.skipped[item.external_id].append(
        {"filename": name[:255], "size": int(size) if isinstance(size, int) else 0,
         "reason": reason[:500]})
