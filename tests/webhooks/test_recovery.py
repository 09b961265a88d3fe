"""What cannot be taken in at once: quarantine, retries, the sweep, retention.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from arq import Retry
from sqlalchemy import select, update

from hub.channels import whatsapp
from hub.db.models import ChannelAccount, QuarantinedItem, WebhookDelivery
from hub.events import unit_of_work
from hub.inbox.store import NewMessage
from hub.resources import Resources
from tests.webhooks.fixtures import (  # noqa: F401
    INGRID_PSID,
    INGRID_WA,
    MetaWorld,
    ago,
    conversations,
    delivery_row,
    fake_graph,
    fixture,
    messages,
    meta_world,
    raw_fixture,
    settings,
    take_in,
    worker_ctx,
)
from workers.webhooks import MAX_ATTEMPTS, process_webhook, sweep_webhooks

Ctx = dict[str, Any]


# --- what cannot be taken in ------------------------------------------------------------


async def test_an_unreadable_delivery_is_quarantined_whole(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    for raw in (b"\x00 geen JSON", b'{"object": "instagram", "entry": []}'):
        delivery_id = await take_in(worker_ctx, "whatsapp", raw)
        done = await delivery_row(hub, delivery_id)
        assert done.processed_at is not None and done.error
    async with hub.sessions() as db:
        items = (await db.scalars(select(QuarantinedItem).order_by(QuarantinedItem.id))).all()
    assert [(i.source, i.raw, i.organisation_id) for i in items] == [
        ("whatsapp", b"\x00 geen JSON", meta_world.org_id),
        ("whatsapp", b'{"object": "instagram", "entry": []}', meta_world.org_id)]
    assert "geen WhatsApp Business-webhook" in items[1].reason


async def test_a_bad_item_is_quarantined_and_the_others_are_stored(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    payload = fixture("whatsapp/batch.json")
    del payload["entry"][1]["changes"][0]["value"]["messages"][0]["from"]
    delivery_id = await take_in(worker_ctx, "whatsapp", json.dumps(payload).encode())
    assert len(await messages(hub)) == 3
    async with hub.sessions() as db:
        [item] = (await db.scalars(select(QuarantinedItem))).all()
    assert item.external_ref == f"webhook:{delivery_id}" and "from" in item.reason
    assert whatsapp.parse_webhook(json.loads(item.raw)).rejected  # replayable, still bad


async def test_a_delivery_for_an_unknown_number_stores_nothing_and_says_so(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    raw = raw_fixture("whatsapp/text.json").replace(b"106540352242922", b"999000111")
    delivery = await delivery_row(hub, await take_in(worker_ctx, "whatsapp", raw))
    assert await messages(hub) == []
    assert delivery.processed_at is not None and "999000111" in (delivery.error or "")
    # a switched-off account stops sending, never what clients write
    async with hub.sessions.begin() as db:
        await db.execute(update(ChannelAccount).values(enabled=False))
    await take_in(worker_ctx, "whatsapp", raw_fixture("whatsapp/text.json"))
    assert len(await messages(hub)) == 1


async def test_the_sweep_enqueues_deliveries_left_unprocessed(hub: Resources) -> None:
    async with hub.sessions.begin() as db:
        old = WebhookDelivery(source="whatsapp", raw=b"{}", received_at=ago(minutes=5))
        fresh = WebhookDelivery(source="whatsapp", raw=b"{}")
        done = WebhookDelivery(source="whatsapp", raw=b"{}", received_at=ago(minutes=5),
                               processed_at=ago(minutes=4))
        ancient = WebhookDelivery(source="whatsapp", raw=b"{}", received_at=ago(days=41),
                                  processed_at=ago(days=40))
        db.add_all([old, fresh, done, ancient])
    assert await sweep_webhooks({"hub": hub}) == 1
    assert [j.job_id for j in await hub.jobs.queued_jobs()] == [f"webhook:{old.id}"]
    assert await sweep_webhooks({"hub": hub}) == 0  # already queued: not twice
    async with hub.sessions() as db:
        left = set((await db.scalars(select(WebhookDelivery.id))).all())
    assert left == {old.id, fresh.id, done.id}  # raw bytes are not kept for ever


async def test_an_item_that_fails_to_store_waits_alone_in_quarantine_and_can_be_retaken(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.db.models import AuditRecord, Staff
    from hub.inbox import meta_ingest
    from tests.helpers.inbox import principal_of

    real = meta_ingest.store_message

    async def broken(session: Any, conversation: Any, new: NewMessage) -> Any:
        if new.body_text.startswith("Goedemiddag"):
            raise RuntimeError("kapotte opslag")
        return await real(session, conversation, new)

    monkeypatch.setattr(meta_ingest, "store_message", broken)
    await take_in(worker_ctx, "whatsapp", raw_fixture("whatsapp/batch.json"))
    assert len(await messages(hub)) == 3  # the others went on
    async with hub.sessions() as db:
        [item] = (await db.scalars(select(QuarantinedItem))).all()
    assert "kapotte opslag" in item.reason
    monkeypatch.setattr(meta_ingest, "store_message", real)  # the cause is fixed
    async with unit_of_work(hub.sessions, hub.events) as db:
        carer = principal_of(await db.get(Staff, meta_world.carer_id))
        delivery_id = await meta_ingest.retake_quarantined(db, carer, item.id)
    assert [j.job_id for j in await hub.jobs.queued_jobs()] == [f"webhook:{delivery_id}"]
    await process_webhook(worker_ctx, delivery_id)
    assert [m.body_text for m in await messages(hub)][-1].startswith("Goedemiddag, ik wil")
    async with hub.sessions() as db:
        [resolved] = (await db.scalars(select(QuarantinedItem))).all()
        audit = await db.scalar(select(AuditRecord).where(
            AuditRecord.object_ref == f"quarantine:{item.id}"))
    assert resolved.resolved_at is not None and audit is not None


async def test_a_delivery_that_keeps_failing_is_quarantined_at_last(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    raw = raw_fixture("whatsapp/text.json")
    async with hub.sessions.begin() as db:
        delivery = WebhookDelivery(source="whatsapp", raw=raw, attempts=MAX_ATTEMPTS)
        db.add(delivery)
    assert await process_webhook(worker_ctx, delivery.id) == "nothing to do"
    async with hub.sessions() as db:
        [item] = (await db.scalars(select(QuarantinedItem))).all()
    assert item.raw == raw and "pogingen" in item.reason
    assert (await delivery_row(hub, delivery.id)).processed_at is not None
    assert await messages(hub) == []
    assert isinstance((await delivery_row(hub, delivery.id)).error, str)


async def test_database_trouble_retries_the_whole_delivery_later(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    from hub.inbox.meta_ingest import MetaIngest

    async def deadlocked(self: Any, *args: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("deadlock detected"))

    monkeypatch.setattr(MetaIngest, "take", deadlocked)
    async with hub.sessions.begin() as db:
        delivery = WebhookDelivery(source="whatsapp", raw=raw_fixture("whatsapp/text.json"))
        db.add(delivery)
    with pytest.raises(Retry) as retry:
        await process_webhook(worker_ctx, delivery.id)
    assert retry.value.defer_score == 5000
    monkeypatch.undo()
    await process_webhook(worker_ctx, delivery.id)
    assert len(await messages(hub)) == 1
    async with hub.sessions() as db:
        assert (await db.scalars(select(QuarantinedItem))).all() == []
