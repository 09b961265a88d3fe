"""``process_webhook`` for Messenger: messages, echoes of our own sends, receipts, files.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from hub.db.models import Attachment
from hub.resources import Resources
from tests.webhooks.fake_graph import FakeGraph
from tests.webhooks.fixtures import (  # noqa: F401
    INGRID_PSID,
    INGRID_WA,
    MetaWorld,
    ago,
    conversations,
    fake_graph,
    first_conversation,
    fixture,
    messages,
    meta_world,
    outbound,
    raw_fixture,
    settings,
    take_in,
    worker_ctx,
)

Ctx = dict[str, Any]


# --- Messenger ------------------------------------------------------------------------


async def test_messenger_echo_of_our_send_is_not_a_second_message(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    conversation_id = await first_conversation(worker_ctx, meta_world, "messenger")
    [conversation] = await conversations(hub)
    assert conversation.client_id == meta_world.client_id  # matched on the PSID
    sent_at = dt.datetime.fromtimestamp(1749416600, dt.UTC)
    ours = await outbound(hub, conversation_id, "Donderdag om 10 uur is er plek.",
                           remote_id=None, status="queued", at=sent_at)
    await take_in(worker_ctx, "messenger", raw_fixture(
        "messenger/echo.json", MESSAGE_ID=str(ours), MID_OF_OUR_SEND="m_ours",
        TEXT_OF_OUR_SEND="Donderdag om 10 uur is er plek."))
    await take_in(worker_ctx, "messenger", raw_fixture("messenger/delivery.json",
                                                       MID_OF_OUR_SEND="m_ours"))
    [message] = await messages(hub, direction="out")
    assert (message.id, message.remote_id, message.delivery_status) == (ours, "m_ours",
                                                                        "delivered")
    await take_in(worker_ctx, "messenger", raw_fixture("messenger/read.json"))
    [message] = await messages(hub, direction="out")
    assert message.delivery_status == "read"  # its time is before the watermark
    # a reply a colleague sent from Meta Business Suite is kept, as sent
    await take_in(worker_ctx, "messenger", raw_fixture("messenger/echo_elsewhere.json"))
    mine, elsewhere = await messages(hub, direction="out")
    assert mine.id == ours
    assert (elsewhere.body_text, elsewhere.delivery_status, elsewhere.sender_name) == (
        "Ja hoor, donderdag om 10 uur is er plek.", "sent", "Thuiszorg De Linde")
    assert elsewhere.conversation_id == conversation_id and elsewhere.meta["sent_elsewhere"]


async def test_messenger_batch_and_cdn_attachment(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld,  # noqa: F811
        fake_graph: FakeGraph) -> None:  # noqa: F811
    fake_graph.cdn["rooster.jpg"] = b"\xff\xd8rooster"
    await take_in(worker_ctx, "messenger", raw_fixture("messenger/batch.json"))
    await take_in(worker_ctx, "messenger", raw_fixture("messenger/attachment.json",
                                                       CDN_URL=fake_graph.url))
    texts = [(m.sender_name, m.body_text) for m in await messages(hub)]
    assert texts == [("Ingrid Visser", "Eerste bericht"), ("Ingrid Visser", "Tweede bericht"),
                     ("Messenger-gebruiker …102938", "Contact opnemen"),
                     ("Messenger-gebruiker …102938", "Ik ben de buurvrouw van mevrouw Visser"),
                     ("Ingrid Visser", "")]
    assert {(c.external_party, c.client_id) for c in await conversations(hub)} == {
        (INGRID_PSID, meta_world.client_id), ("5512983746102938", None)}
    async with hub.sessions() as db:
        [row] = (await db.scalars(select(Attachment))).all()
    assert (row.filename, row.content_type, row.size) == ("afbeelding.jpg", "image/jpeg", 9)


