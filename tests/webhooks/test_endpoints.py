"""``/webhooks/whatsapp`` and ``/webhooks/messenger`` over HTTP, in-process.

The subscription check echoes the challenge only for the right verify token; a delivery
is stored byte for byte and its job enqueued only when ``X-Hub-Signature-256`` is the
HMAC of exactly those bytes; everything else is refused before anything is stored.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from hub.db.models import WebhookDelivery
from hub.resources import Resources
from hub.security.policy import WEBHOOK, access_of, walk
from hub.settings import Settings
from hub.webhooks.meta import sign
from tests.webhooks.fixtures import (  # noqa: F401
    APP_SECRET,
    VERIFY_TOKEN,
    fake_graph,
    messages,
    meta_world,
    raw_fixture,
    settings,
    worker_ctx,
)
from workers.webhooks import process_webhook

SOURCES = ("whatsapp", "messenger")


async def _stored(hub: Resources) -> list[WebhookDelivery]:
    async with hub.sessions() as db:
        return list((await db.scalars(select(WebhookDelivery).order_by(
            WebhookDelivery.id))).all())


def _post(client: httpx.AsyncClient, source: str, raw: bytes,
          signature: str | None) -> Any:
    headers: dict[str, Any] = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature.encode("latin-1")
    return client.post(f"/webhooks/{source}", content=raw, headers=headers)


async def test_subscription_check_echoes_the_challenge_for_the_right_token(
        client: httpx.AsyncClient) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
              "hub.challenge": "1158201444"}
    for source in SOURCES:
        ok = await client.get(f"/webhooks/{source}", params=params)
        assert ok.status_code == 200 and ok.text == "1158201444"
        assert ok.headers["content-type"].startswith("text/plain")
        for wrong in ({"hub.verify_token": "raden"}, {"hub.mode": "unsubscribe"},
                      {"hub.challenge": "<script>"}, {"hub.verify_token": VERIFY_TOKEN + "x"}):
            refused = await client.get(f"/webhooks/{source}", params=params | wrong)
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "webhook_verification_failed"


@pytest.mark.parametrize("source", SOURCES)
async def test_a_signed_delivery_is_stored_byte_for_byte_and_its_job_enqueued(
        client: httpx.AsyncClient, hub: Resources, source: str) -> None:
    raw = raw_fixture(f"{source}/batch.json")
    response = await _post(client, source, raw, sign(raw, APP_SECRET))
    assert response.status_code == 200
    [delivery] = await _stored(hub)
    assert response.json() == {"received": delivery.id}
    assert delivery.raw == raw and delivery.source == source
    assert delivery.processed_at is None and delivery.organisation_id is None
    jobs = await hub.jobs.queued_jobs()
    assert [(j.function, j.args, j.job_id) for j in jobs] == [
        ("process_webhook", (delivery.id,), f"webhook:{delivery.id}")]


BAD_SIGNATURES = [None, "", "sha256=", "sha1=0000", "sha256=" + "0" * 64, "sha256=zz",
                  "sha256=ÿÿÿ", sign(b"something else", APP_SECRET),
                  sign(b"{}", "other-secret")]


async def test_a_delivery_without_a_valid_signature_is_refused_and_not_stored(
        client: httpx.AsyncClient, hub: Resources) -> None:
    raw = raw_fixture("whatsapp/text.json")
    for signature in BAD_SIGNATURES:
        response = await _post(client, "whatsapp", raw, signature)
        assert response.status_code == 403, signature
        assert response.json()["error"]["code"] == "webhook_signature_invalid"
    assert await _stored(hub) == []
    assert await hub.jobs.queued_jobs() == []


async def test_the_signature_covers_the_raw_bytes_not_the_json(
        client: httpx.AsyncClient, hub: Resources) -> None:
    raw = raw_fixture("whatsapp/text.json")
    same_json = json.dumps(json.loads(raw)).encode()  # equal data, other bytes
    assert same_json != raw
    refused = await _post(client, "whatsapp", same_json, sign(raw, APP_SECRET))
    assert refused.status_code == 403
    accepted = await _post(client, "whatsapp", raw,
                           sign(raw, APP_SECRET).upper().replace("SHA256=", "sha256="))
    assert accepted.status_code == 200  # hex case does not matter


async def test_an_oversized_delivery_is_refused_before_it_is_read_whole(
        client: httpx.AsyncClient, hub: Resources, settings: Settings) -> None:  # noqa: F811
    raw = b'{"object":"page","entry":[]}' + b" " * settings.meta_webhook_max_bytes
    response = await _post(client, "messenger", raw, sign(raw, APP_SECRET))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert await _stored(hub) == []


async def test_without_secrets_nothing_is_accepted(client: httpx.AsyncClient, hub: Resources,
                                                   settings: Settings) -> None:  # noqa: F811
    hub.settings = settings.with_changes(meta_app_secret="", meta_verify_token="")
    raw = raw_fixture("whatsapp/text.json")
    posted = await _post(client, "whatsapp", raw, sign(raw, ""))
    checked = await client.get("/webhooks/whatsapp", params={
        "hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"})
    assert posted.status_code == checked.status_code == 403
    assert posted.json()["error"]["code"] == "webhook_not_configured"
    assert checked.json()["error"]["code"] == "webhook_not_configured"
    assert await _stored(hub) == []


async def test_a_signed_body_that_is_not_json_is_kept_for_the_quarantine(
        client: httpx.AsyncClient, hub: Resources, meta_world: Any,  # noqa: F811
        worker_ctx: dict[str, Any]) -> None:  # noqa: F811
    raw = b"\x00 dit is geen JSON"
    response = await _post(client, "whatsapp", raw, sign(raw, APP_SECRET))
    assert response.status_code == 200  # the signature is Meta's: keep it, judge it later
    [delivery] = await _stored(hub)
    assert await process_webhook(worker_ctx, delivery.id) == "quarantined"


async def test_end_to_end_a_signed_post_becomes_one_message_however_often_sent(
        client: httpx.AsyncClient, hub: Resources, meta_world: Any,  # noqa: F811
        worker_ctx: dict[str, Any]) -> None:  # noqa: F811
    raw = raw_fixture("whatsapp/text.json")
    for _ in range(3):  # Meta redelivers
        assert (await _post(client, "whatsapp", raw, sign(raw, APP_SECRET))).status_code == 200
    for delivery in await _stored(hub):
        await process_webhook(worker_ctx, delivery.id)
    [message] = await messages(hub)
    assert message.body_text.startswith("Goedemorgen, mijn vader")
    async with hub.sessions() as db:
        left = await db.scalar(select(func.count()).select_from(WebhookDelivery).where(
            WebhookDelivery.processed_at.is_(None)))
    assert left == 0


def test_webhook_routes_declare_the_webhook_policy(settings: Settings) -> None:  # noqa: F811
    from hub.app import create_app

    found = {(path, tuple(sorted(getattr(route, "methods", ())))): access_of(route)
             for path, route in walk(create_app(settings).routes) if "/webhooks/" in path}
    assert set(found.values()) == {WEBHOOK}
    assert {path for path, _ in found} == {"/webhooks/whatsapp", "/webhooks/messenger"}
    assert len(found) == 4 and not WEBHOOK.csrf


async def test_the_arq_worker_takes_a_delivery_in_and_sends_the_answer(
        client: httpx.AsyncClient, hub: Resources, meta_world: Any,  # noqa: F811
        fake_graph: Any) -> None:  # noqa: F811
    import asyncio

    from hub.db.models import Staff
    from hub.events import unit_of_work
    from hub.inbox.meta_reply import queue_meta_reply
    from tests.helpers.inbox import principal_of
    from workers.main import build_worker

    async def run_worker() -> None:
        worker = build_worker(hub.settings, burst=True, poll_delay=0.05, handle_signals=False)
        try:
            await asyncio.wait_for(worker.async_run(), 30)
        finally:
            await worker.close()

    raw = raw_fixture("whatsapp/text.json").replace(b'"1749416383"', b'"%d"' % time.time())
    assert (await _post(client, "whatsapp", raw, sign(raw, APP_SECRET))).status_code == 200
    await run_worker()
    [inbound] = await messages(hub)
    async with unit_of_work(hub.sessions, hub.events) as db:
        carer = principal_of(await db.get(Staff, meta_world.carer_id))
        reply = await queue_meta_reply(db, carer, inbound.conversation_id, "Komt goed!")
    await run_worker()
    [sent] = await messages(hub, id=reply.id)
    assert sent.delivery_status == "sent" and sent.remote_id
    [seen] = fake_graph.sends()
    assert seen.body["text"]["body"] == "Komt goed!"
