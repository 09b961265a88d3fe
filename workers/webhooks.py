"""Webhook jobs: take a stored Meta delivery into the inbox; sweep up forgotten ones.

``process_webhook(ctx, delivery_id)`` reads one ``WebhookDelivery`` (stored by
``hub.webhooks.meta`` before Meta got its 200) and takes in *every* entry, change,
message and status in it. It is idempotent (invariant 3): a delivery already processed
is skipped, and every message is stored once by its ``wamid`` / ``mid`` however often
Meta redelivers it. In order:

1. claim: count the attempt (committed), so a delivery that keeps failing is
   quarantined after ``MAX_ATTEMPTS`` instead of being retried for ever;
2. parse (pure): a body that is not what Meta documents goes to quarantine whole, with
   its raw bytes, and the delivery is done;
3. fetch media outside any transaction (WhatsApp: ``GET /{media-id}``, then the URL with
   the bearer token; Messenger: the CDN URL). A network failure retries the job with a
   growing delay; after the last try the message is stored with the file listed as
   skipped, so one dead download never holds up the words;
4. store everything and mark the delivery processed, in one transaction (a deadlock or
   a dropped database connection retries the job a little later).

``sweep_webhooks`` (cron, every minute, and at worker start) enqueues deliveries still
unprocessed a minute after they arrived: a job lost with Redis, a worker that crashed,
a delivery stored while no worker ran. arq does not catch up missed cron runs; the sweep
looks at the database, so it does not matter when it runs. It also deletes deliveries
processed more than ``KEEP_PROCESSED`` ago.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from typing import Any

import httpx
from arq import Retry, cron
from sqlalchemy import delete, select

from hub.channels import messenger, whatsapp
from hub.channels.items import Batch, Unreadable
from hub.db.base import utcnow
from hub.db.models import ChannelAccount, WebhookDelivery
from hub.events import unit_of_work
from hub.inbox import quarantine
from hub.inbox.attachments import AttachmentStore
from hub.inbox.meta_ingest import Downloads, IngestResult, MetaIngest, transient
from hub.inbox.meta_media import fetch_media, known_ids
from hub.resources import Resources

log = logging.getLogger(__name__)
PARSERS = {"whatsapp": whatsapp.parse_webhook, "messenger": messenger.parse_webhook}
MAX_ATTEMPTS = 10
# seconds before try 2, 3, ... when a media download failed for a passing reason
MEDIA_RETRY_DELAYS = (5, 30, 120)
SWEEP_AFTER = dt.timedelta(minutes=1)
DB_RETRY_SECONDS = 5
SWEEP_BATCH = 500
# raw deliveries are personal data: kept for tracing, then removed
KEEP_PROCESSED = dt.timedelta(days=30)


@dataclasses.dataclass(frozen=True)
class Claimed:
    id: int
    source: str
    raw: bytes
    attempt: int


def meta_http(ctx: dict[str, Any]) -> httpx.AsyncClient:
    """The worker's one HTTP client for the Graph API (made on first use)."""
    if "meta_http" not in ctx:
        ctx["meta_http"] = httpx.AsyncClient(follow_redirects=False)
    client: httpx.AsyncClient = ctx["meta_http"]
    return client


async def on_shutdown(ctx: dict[str, Any]) -> None:
    client = ctx.pop("meta_http", None)
    if client is not None:
        await client.aclose()


async def process_webhook(ctx: dict[str, Any], delivery_id: int) -> str:
    hub: Resources = ctx["hub"]
    claimed = await _claim(hub, delivery_id)
    if claimed is None:
        return "nothing to do"
    try:
        batch = PARSERS[claimed.source](json.loads(claimed.raw))
    except (ValueError, KeyError, RecursionError, Unreadable) as exc:
        reason = exc.reason if isinstance(exc, Unreadable) else f"geen geldige JSON: {exc}"
        await _quarantine_whole(hub, claimed, reason)
        return "quarantined"
    accounts = await _accounts(hub, claimed.source, batch)
    downloads = await _downloads(ctx, hub, batch, accounts, claimed)
    try:
        async with unit_of_work(hub.sessions, hub.events) as session:
            ingest = MetaIngest(session, AttachmentStore(hub.settings.attachments_dir),
                                accounts, f"webhook:{claimed.id}")
            result = await ingest.take(batch, downloads)
            await _done(session, claimed.id, accounts, result)
    except Exception as exc:
        if not transient(exc):
            raise
        # a deadlock or a dropped connection: the whole delivery again, a little later
        log.warning("webhook %s: database trouble, retrying: %r", claimed.id, exc)
        raise Retry(defer=DB_RETRY_SECONDS * claimed.attempt) from exc
    log.info("webhook %s: %s", claimed.id, _summary(result))
    return _summary(result)


async def _claim(hub: Resources, delivery_id: int) -> Claimed | None:
    async with unit_of_work(hub.sessions, hub.events) as session:
        delivery = await session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.processed_at is not None:
            return None
        delivery.attempts = (delivery.attempts or 0) + 1
        claimed = Claimed(delivery.id, delivery.source, delivery.raw, delivery.attempts)
    if claimed.attempt > MAX_ATTEMPTS:
        await _quarantine_whole(hub, claimed, f"na {MAX_ATTEMPTS} pogingen niet verwerkt")
        return None
    return claimed


async def _accounts(hub: Resources, source: str, batch: Batch) -> dict[str, ChannelAccount]:
    ids = batch.account_ids()
    if not ids:
        return {}
    async with hub.sessions() as session:
        rows = await session.scalars(select(ChannelAccount).where(
            ChannelAccount.kind == source, ChannelAccount.external_account_id.in_(ids)))
        return {row.external_account_id: row for row in rows}


async def _downloads(ctx: dict[str, Any], hub: Resources, batch: Batch,
                     accounts: dict[str, ChannelAccount], claimed: Claimed) -> Downloads:
    """The batch's files; a passing failure retries the job while tries are left."""
    last_try = claimed.attempt > len(MEDIA_RETRY_DELAYS)
    async with hub.sessions() as session:
        skip = await known_ids(session, batch, accounts)
    downloads, transient = await fetch_media(meta_http(ctx), hub.settings, batch, accounts,
                                             skip, give_up=last_try)
    if transient and not last_try:
        log.warning("webhook %s: media download failed, retrying: %s", claimed.id, transient)
        raise Retry(defer=MEDIA_RETRY_DELAYS[claimed.attempt - 1])
    return downloads


async def _done(session: Any, delivery_id: int, accounts: dict[str, ChannelAccount],
                result: IngestResult) -> None:
    delivery = await session.get(WebhookDelivery, delivery_id)
    orgs = {a.organisation_id for a in accounts.values()}
    delivery.organisation_id = orgs.pop() if len(orgs) == 1 else None
    delivery.processed_at = utcnow()
    delivery.error = "; ".join(result.notes)[:4000] or None


async def _quarantine_whole(hub: Resources, claimed: Claimed, reason: str) -> None:
    """Keep an unreadable delivery whole, under its organisation when that is clear."""
    async with unit_of_work(hub.sessions, hub.events) as session:
        delivery = await session.get(WebhookDelivery, claimed.id)
        org = await _only_organisation(session, claimed.source)
        if org is not None:
            await quarantine.add(session, org, raw=claimed.raw, reason=reason,
                                 source=claimed.source, external_ref=f"webhook:{claimed.id}")
        else:
            # no organisation to show it to: it stays here, raw bytes and reason
            log.error("webhook %s unreadable and not attributable: %s", claimed.id, reason)
        if delivery is not None:
            delivery.organisation_id = org
            delivery.processed_at = utcnow()
            delivery.error = reason[:4000]


async def _only_organisation(session: Any, source: str) -> int | None:
    """The organisation a delivery must be for when only one has an account of its kind."""
    orgs = (await session.scalars(select(ChannelAccount.organisation_id).where(
        ChannelAccount.kind == source).distinct().limit(2))).all()
    return int(orgs[0]) if len(orgs) == 1 else None


def _summary(result: IngestResult) -> str:
    return (f"stored={result.stored} duplicates={result.duplicates} echoes={result.echoes} "
            f"statuses={result.statuses} quarantined={result.quarantined}")


async def sweep_webhooks(ctx: dict[str, Any]) -> int:
    """Enqueue every delivery still unprocessed a minute after it arrived, and forget
    the raw bytes of deliveries processed long ago (the messages are stored; what could
    not be taken in has its own copy in the quarantine)."""
    hub: Resources = ctx["hub"]
    async with unit_of_work(hub.sessions, hub.events) as session:
        await session.execute(delete(WebhookDelivery).where(
            WebhookDelivery.processed_at < utcnow() - KEEP_PROCESSED))
        ids = (await session.scalars(select(WebhookDelivery.id).where(
            WebhookDelivery.processed_at.is_(None),
            WebhookDelivery.received_at < utcnow() - SWEEP_AFTER,
        ).order_by(WebhookDelivery.id).limit(SWEEP_BATCH))).all()
    enqueued = 0
    for delivery_id in ids:
        # the same job id as the endpoint's: a job still queued or running is not doubled
        job = await hub.jobs.enqueue_job("process_webhook", delivery_id,
                                         _job_id=f"webhook:{delivery_id}")
        enqueued += job is not None
    return enqueued


FUNCTIONS = [process_webhook, sweep_webhooks]
CRON_JOBS = [cron(sweep_webhooks, second={30}, run_at_startup=True)]
