"""Answers out over WhatsApp and Messenger: ``queue_meta_reply`` and the send jobs.

The jobs run as arq would run them (``ctx`` with ``job_try``) against the local fake
Graph API, which checks every request as Meta documents it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from arq import Retry
from sqlalchemy import select, update

from hub.db.models import ChannelAccount, Conversation, Message, Staff
from hub.errors import ChannelError, MessagingWindowClosed
from hub.events import unit_of_work
from hub.inbox.meta_reply import (
    NOTICE_TEXT,
    queue_meta_reply,
    reply_plan,
    whatsapp_window_open,
)
from hub.resources import Resources
from tests.factories import make_conversation, make_org, make_portal_user, make_staff
from tests.helpers.inbox import principal_of
from tests.webhooks.fake_graph import FakeGraph, meta_error
from tests.webhooks.fixtures import (  # noqa: F401
    INGRID_PSID,
    INGRID_WA,
    NOTICE_TEMPLATE,
    MetaWorld,
    ago,
    conversations,
    fake_graph,
    messages,
    meta_world,
    raw_fixture,
    settings,
    take_in,
    worker_ctx,
)
from workers.meta_send import SEND_TRIES, send_messenger, send_whatsapp, sweep_meta_sends

Ctx = dict[str, Any]


async def _conversation(ctx: Ctx, source: str, *, last_inbound: dt.datetime) -> Conversation:
    """Ingrid's conversation (from her first message), its window as the test needs."""
    name = "whatsapp/text.json" if source == "whatsapp" else "messenger/message.json"
    await take_in(ctx, source, raw_fixture(name))
    hub: Resources = ctx["hub"]
    async with hub.sessions.begin() as db:
        await db.execute(update(Conversation).where(Conversation.channel == source)
                         .values(last_inbound_at=last_inbound))
    [conversation] = await conversations(hub, channel=source)
    return conversation


async def _reply(hub: Resources, world: MetaWorld, conversation_id: int, text: str,
                 reply_id: str | None = None) -> Message:
    async with unit_of_work(hub.sessions, hub.events) as db:
        carer = await db.get(Staff, world.carer_id)
        assert carer is not None
        return await queue_meta_reply(db, principal_of(carer), conversation_id, text,
                                      reply_id=reply_id)


async def _portal_user(hub: Resources, world: MetaWorld) -> None:
    from hub.db.models import Client, Organisation

    async with hub.sessions.begin() as db:
        org = await db.get(Organisation, world.org_id)
        client = await db.get(Client, world.client_id)
        assert org is not None and client is not None
        await make_portal_user(db, org, clients=(client,), relation="family",
                               name="Ingrid Visser", email="ingrid.visser@familie.test")


async def test_a_reply_inside_the_window_is_queued_then_sent_exactly_once(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld,  # noqa: F811
        fake_graph: FakeGraph) -> None:  # noqa: F811
    conversation = await _conversation(worker_ctx, "whatsapp", last_inbound=ago(hours=2))
    message = await _reply(hub, meta_world, conversation.id, "  Wij komen om 11 uur.  ",
                           reply_id="form-1")
    again = await _reply(hub, meta_world, conversation.id, "Wij komen om 11 uur.",
                         reply_id="form-1")  # the form was sent twice
    assert again.id == message.id
    assert (message.delivery_status, message.direction, message.meta["mode"]) == (
        "queued", "out", "text")
    jobs = await hub.jobs.queued_jobs()
    assert [(j.function, j.args, j.job_id) for j in jobs] == [
        ("send_whatsapp", (message.id,), f"send_whatsapp:{message.id}")]
    assert await send_whatsapp(worker_ctx, message.id) == "sent"
    [seen] = fake_graph.sends()
    assert seen.body == {"messaging_product": "whatsapp", "recipient_type": "individual",
                         "to": INGRID_WA, "type": "text",
                         "text": {"preview_url": False, "body": "Wij komen om 11 uur."},
                         "biz_opaque_callback_data": f"zh:{message.id}"}
    [sent] = await messages(hub, direction="out")
    assert sent.delivery_status == "sent" and sent.remote_id.startswith("wamid.")
    assert sent.send_attempts == 1 and sent.delivery_error is None
    # arq runs a job again after a crash: nothing is sent twice
    assert await send_whatsapp(worker_ctx, message.id) == "nothing to send (sent)"
    assert len(fake_graph.sends()) == 1


async def test_passing_failures_are_retried_with_a_growing_delay(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld,  # noqa: F811
        fake_graph: FakeGraph) -> None:  # noqa: F811
    conversation = await _conversation(worker_ctx, "whatsapp", last_inbound=ago(hours=1))
    message = await _reply(hub, meta_world, conversation.id, "Tot straks")
    fake_graph.fail_next(meta_error(500, 1, "An unknown error occurred"),
                         meta_error(429, 80007, "Rate limit issues"))
    delays = []
    for attempt in (1, 2):
        with pytest.raises(Retry) as retry:
            await send_whatsapp(worker_ctx | {"job_try": attempt}, message.id)
        delays.append(retry.value.defer_score)
    [waiting] = await messages(hub, direction="out")
    assert delays == [10_000, 30_000]
    assert waiting.delivery_status == "queued" and waiting.send_attempts == 2
    assert waiting.delivery_error == "Rate limit issues (Meta-code 80007)"
    assert await send_whatsapp(worker_ctx | {"job_try": 3}, message.id) == "sent"
    [sent] = await messages(hub, direction="out")
    assert (sent.delivery_status, sent.delivery_error) == ("sent", None)


async def test_the_last_try_and_a_refusal_fail_with_metas_words(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld,  # noqa: F811
        fake_graph: FakeGraph) -> None:  # noqa: F811
    conversation = await _conversation(worker_ctx, "whatsapp", last_inbound=ago(hours=1))
    first = await _reply(hub, meta_world, conversation.id, "een")
    second = await _reply(hub, meta_world, conversation.id, "twee")
    third = await _reply(hub, meta_world, conversation.id, "drie")
    fake_graph.fail_next(meta_error(503, 2, "Service temporarily unavailable"))
    assert await send_whatsapp(worker_ctx | {"job_try": SEND_TRIES}, first.id) == "failed"
    fake_graph.fail_next(meta_error(400, 131026, "Message undeliverable"))
    assert await send_whatsapp(worker_ctx, second.id) == "failed"
    fake_graph.fail_next(meta_error(400, 131047, "Re-engagement message"))
    assert await send_whatsapp(worker_ctx, third.id) == "failed"
    got = {m.id: m for m in await messages(hub, direction="out")}
    assert {m.delivery_status for m in got.values()} == {"failed"}
    assert got[first.id].delivery_error == (
        "na 6 pogingen opgegeven: Service temporarily unavailable (Meta-code 2)")
    assert got[second.id].delivery_error == "Message undeliverable (Meta-code 131026)"
    assert got[third.id].delivery_error.startswith("Het 24-uursvenster was al gesloten")
    assert all(m.remote_id is None for m in got.values())


async def test_an_unreachable_graph_api_is_retried(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    conversation = await _conversation(worker_ctx, "whatsapp", last_inbound=ago(hours=1))
    message = await _reply(hub, meta_world, conversation.id, "Hallo")
    hub.settings = hub.settings.with_changes(graph_api_url="http://127.0.0.1:9/v21.0")
    with pytest.raises(Retry):
        await send_whatsapp(worker_ctx, message.id)
    [waiting] = await messages(hub, direction="out")
    assert waiting.delivery_status == "queued" and "onbereikbaar" in waiting.delivery_error


async def test_outside_the_window_the_words_go_to_the_portal_and_whatsapp_gets_a_notice(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld,  # noqa: F811
        fake_graph: FakeGraph) -> None:  # noqa: F811
    conversation = await _conversation(worker_ctx, "whatsapp", last_inbound=ago(days=2))
    await _portal_user(hub, meta_world)
    async with hub.sessions() as db:
        plan = await reply_plan(db, conversation)
    assert plan.mode == "notice" and "portaal" in plan.explanation
    words = "Henk Visser krijgt vanaf maandag een nieuwe medicatielijst."
    message = await _reply(hub, meta_world, conversation.id, words)
    [portal] = await conversations(hub, channel="portal")
    [copy] = await messages(hub, conversation_id=portal.id)
    assert copy.body_text == words and portal.client_id == meta_world.client_id
    assert message.meta["portal_link_path"] == f"/portal/conversations/{portal.id}"
    assert await send_whatsapp(worker_ctx, message.id) == "sent"
    [seen] = fake_graph.sends()
    link = f"{hub.settings.base_url}/portal/conversations/{portal.id}"
    assert seen.body["template"] == {
        "name": NOTICE_TEMPLATE, "language": {"code": "nl"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": link}]}]}
    sent_out = json.dumps(seen.body)
    assert "Visser" not in sent_out and "medicatie" not in sent_out  # invariant 6


async def test_outside_the_window_without_a_portal_way_it_is_refused_up_front(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    conversation = await _conversation(worker_ctx, "whatsapp", last_inbound=ago(hours=30))
    with pytest.raises(MessagingWindowClosed, match="geen portaaltoegang"):
        await _reply(hub, meta_world, conversation.id, "Hallo")
    await _portal_user(hub, meta_world)
    async with hub.sessions.begin() as db:
        await db.execute(update(ChannelAccount).values(notice_template=""))
    with pytest.raises(MessagingWindowClosed, match="sjabloon"):
        await _reply(hub, meta_world, conversation.id, "Hallo")
    async with hub.sessions.begin() as db:
        await db.execute(update(Conversation).values(client_id=None))
    with pytest.raises(MessagingWindowClosed, match="niet aan een cliënt gekoppeld"):
        await _reply(hub, meta_world, conversation.id, "Hallo")
    assert await messages(hub, direction="out") == []
    assert await hub.jobs.queued_jobs() == []


def test_the_window_is_24_hours_after_the_last_message_less_a_margin() -> None:
    now = dt.datetime(2025, 6, 9, 12, 0, tzinfo=dt.UTC)
    for last, open_ in ((None, False), (now - dt.timedelta(hours=1), True),
                        (now - dt.timedelta(hours=23, minutes=40), True),
                        (now - dt.timedelta(hours=23, minutes=50), False),
                        (now - dt.timedelta(hours=25), False)):
        assert whatsapp_window_open(Conversation(last_inbound_at=last), now) is open_, last


async def test_messenger_responds_inside_the_window_and_tags_a_notice_outside(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld,  # noqa: F811
        fake_graph: FakeGraph) -> None:  # noqa: F811
    conversation = await _conversation(worker_ctx, "messenger", last_inbound=ago(hours=3))
    inside = await _reply(hub, meta_world, conversation.id, "Ja, er is plek.")
    assert await send_messenger(worker_ctx, inside.id) == "sent"
    await _portal_user(hub, meta_world)
    async with hub.sessions.begin() as db:
        await db.execute(update(Conversation).values(last_inbound_at=ago(days=3)))
    outside = await _reply(hub, meta_world, conversation.id, "Uw rooster is aangepast.")
    assert await send_messenger(worker_ctx, outside.id) == "sent"
    response, notice = fake_graph.sends()
    assert response.body == {"recipient": {"id": INGRID_PSID}, "messaging_type": "RESPONSE",
                             "message": {"text": "Ja, er is plek.",
                                         "metadata": f"zh:{inside.id}"}}
    [portal] = await conversations(hub, channel="portal")
    link = f"{hub.settings.base_url}/portal/conversations/{portal.id}"
    assert notice.body == {"recipient": {"id": INGRID_PSID}, "messaging_type": "MESSAGE_TAG",
                           "tag": "ACCOUNT_UPDATE",
                           "message": {"text": NOTICE_TEXT.format(link=link),
                                       "metadata": f"zh:{outside.id}"}}
    # Meta's echo of that send does not become a second message
    [sent] = await messages(hub, id=outside.id)
    await take_in(worker_ctx, "messenger", raw_fixture(
        "messenger/echo.json", MESSAGE_ID=str(outside.id), MID_OF_OUR_SEND=sent.remote_id,
        TEXT_OF_OUR_SEND=NOTICE_TEXT.format(link=link)))
    assert len(await messages(hub, direction="out", conversation_id=conversation.id)) == 2


async def test_without_a_connected_account_there_is_nothing_to_send_from(
        hub: Resources) -> None:
    async with hub.sessions.begin() as db:
        org = await make_org(db)
        staff = await make_staff(db, org)
        conversation = await make_conversation(db, org, channel="whatsapp",
                                               external_party=INGRID_WA)
    async with unit_of_work(hub.sessions, hub.events) as db:
        with pytest.raises(ChannelError, match="nog niet gekoppeld"):
            await queue_meta_reply(db, principal_of(staff), conversation.id, "Hallo")
    async with hub.sessions() as db:
        assert (await db.scalars(select(Message))).all() == []


async def test_the_sweep_requeues_lost_sends_and_gives_up_after_a_day(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    conversation = await _conversation(worker_ctx, "whatsapp", last_inbound=ago(hours=1))
    fresh, lost, ancient = [await _reply(hub, meta_world, conversation.id, text)
                            for text in ("vers", "kwijt", "oud")]
    await hub.redis.flushall()  # Redis lost the queued jobs
    async with hub.sessions.begin() as db:
        for message_id, age in ((lost.id, ago(minutes=10)), (ancient.id, ago(hours=25))):
            await db.execute(update(Message).where(Message.id == message_id)
                             .values(created_at=age))
    assert await sweep_meta_sends(worker_ctx) == 1
    assert [j.job_id for j in await hub.jobs.queued_jobs()] == [f"send_whatsapp:{lost.id}"]
    assert await sweep_meta_sends(worker_ctx) == 0  # queued already: not twice
    got = {m.id: m for m in await messages(hub, direction="out")}
    assert got[ancient.id].delivery_status == "failed"
    assert "24 uur" in got[ancient.id].delivery_error
    assert (got[fresh.id].delivery_status, got[lost.id].delivery_status) == ("queued",
                                                                             "queued")


async def test_the_plan_says_so_when_the_account_is_switched_off(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    conversation = await _conversation(worker_ctx, "whatsapp", last_inbound=ago(hours=1))
    async with hub.sessions() as db:
        assert (await reply_plan(db, conversation)).mode == "text"
    async with hub.sessions.begin() as db:
        await db.execute(update(ChannelAccount).values(enabled=False))
    async with hub.sessions() as db:
        plan = await reply_plan(db, conversation)
    assert plan.mode == "blocked" and "niet (meer) gekoppeld" in plan.explanation
    with pytest.raises(ChannelError, match="uitgeschakeld"):
        await _reply(hub, meta_world, conversation.id, "Hallo")
