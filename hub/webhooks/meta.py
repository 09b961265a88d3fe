"""``/webhooks/whatsapp`` and ``/webhooks/messenger``: Meta's subscription check and
deliveries.

GET is the subscription check: Meta sends ``hub.mode=subscribe``, ``hub.verify_token``
and ``hub.challenge``; the challenge is echoed only when the token equals
``settings.meta_verify_token``.

POST is a delivery, handled in this order (invariant 4):

1. the body is read as raw bytes, capped at ``settings.meta_webhook_max_bytes`` (413);
2. ``X-Hub-Signature-256: sha256=<hex>`` must be the HMAC-SHA256 of exactly those bytes
   with ``settings.meta_app_secret``, compared in constant time; otherwise 403
   ``webhook_signature_invalid`` and nothing is stored or parsed (the JSON is not even
   decoded here: re-serialised JSON would not match the signature);
3. the raw bytes are committed as a ``WebhookDelivery``, and ``process_webhook`` is
   enqueued after the commit (the sweep in ``workers.webhooks`` picks up a delivery
   whose job got lost);
4. 200. A database failure gives a 5xx, and Meta delivers again later.

Without an app secret (or verify token) nothing can be checked: 403
``webhook_not_configured`` (Meta redelivers what was not answered with 200).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute

from hub.db.models import WebhookDelivery
from hub.db.models.messaging import Channel
from hub.errors import (
    PayloadTooLarge,
    WebhookNotConfigured,
    WebhookSignatureInvalid,
    WebhookVerificationFailed,
)
from hub.events import enqueue, unit_of_work
from hub.resources import Resources
from hub.security.guards import client_ip, hub_of
from hub.security.policy import WEBHOOK, SecureRoute

log = logging.getLogger(__name__)
SOURCES = (Channel.WHATSAPP.value, Channel.MESSENGER.value)
SIGNATURE_HEADER = "x-hub-signature-256"
# Meta's challenge is a number; anything else is not echoed back
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

Endpoint = Callable[[Request], Awaitable[Response]]


def routes() -> list[BaseRoute]:
    found: list[BaseRoute] = []
    for source in SOURCES:
        found.append(SecureRoute(f"/webhooks/{source}", _verify_endpoint(source),
                                 access=WEBHOOK, methods=["GET"]))
        found.append(SecureRoute(f"/webhooks/{source}", _receive_endpoint(source),
                                 access=WEBHOOK, methods=["POST"]))
    return found


def _verify_endpoint(source: str) -> Endpoint:
    async def verify(request: Request) -> Response:
        return check_subscription(request)

    verify.__name__ = f"{source}_webhook_verify"
    return verify


def _receive_endpoint(source: str) -> Endpoint:
    async def receive(request: Request) -> Response:
        return await receive_delivery(request, source)

    receive.__name__ = f"{source}_webhook_receive"
    return receive


def check_subscription(request: Request) -> Response:
    expected = hub_of(request).settings.meta_verify_token
    if not expected:
        raise WebhookNotConfigured("HUB_META_VERIFY_TOKEN is niet ingesteld")
    params = request.query_params
    token = params.get("hub.verify_token", "")
    challenge = params.get("hub.challenge", "")
    if params.get("hub.mode") != "subscribe" or not _same(token, expected) \
            or not _CHALLENGE.match(challenge):
        log.warning("webhook subscription check refused from %s", client_ip(request))
        raise WebhookVerificationFailed("verificatie van het webhook-abonnement mislukt")
    return PlainTextResponse(challenge)


async def receive_delivery(request: Request, source: str) -> Response:
    hub = hub_of(request)
    secret = hub.settings.meta_app_secret
    if not secret:
        raise WebhookNotConfigured("HUB_META_APP_SECRET is niet ingesteld")
    raw = await read_capped(request, hub.settings.meta_webhook_max_bytes)
    if not signature_valid(raw, request.headers.get(SIGNATURE_HEADER, ""), secret):
        log.warning("%s webhook with a bad signature from %s", source, client_ip(request))
        raise WebhookSignatureInvalid("ongeldige of ontbrekende X-Hub-Signature-256")
    delivery_id = await store_delivery(hub, source, raw)
    return JSONResponse({"received": delivery_id})


async def read_capped(request: Request, limit: int) -> bytes:
    """The raw body, refused (413) as soon as it is longer than ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge("webhook te groot", limit=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("webhook te groot", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def sign(raw: bytes, secret: str) -> str:
    """The header value Meta sends for ``raw``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def signature_valid(raw: bytes, header: str, secret: str) -> bool:
    given = header.strip()
    if not given.lower().startswith("sha256="):
        return False
    return _same("sha256=" + given[7:].lower(), sign(raw, secret))


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also takes non-ASCII input (never raises)."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


async def store_delivery(hub: Resources, source: str, raw: bytes) -> int:
    async with unit_of_work(hub.sessions, hub.events) as session:
        delivery = WebhookDelivery(source=source, raw=raw)
        session.add(delivery)
        await session.flush()
        enqueue(session, "process_webhook", delivery.id, job_id=f"webhook:{delivery.id}")
    return delivery.id
