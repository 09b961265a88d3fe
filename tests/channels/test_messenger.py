"""The Messenger adapter: Meta's documented ``messaging`` events in, Send API calls out.

Parsing replays ``tests/fixtures/meta/messenger``; sending talks to the local fake Graph
API, which checks the Send API shape (recipient, messaging_type, tag, message.text) and
the page token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from hub.channels import messenger
from hub.channels.graph import GraphClient
from hub.channels.items import Unreadable
from hub.errors import ChannelError, DeliveryFailed
from hub.settings import Settings
from tests.webhooks.fake_graph import FakeGraph, meta_error
from tests.webhooks.fixtures import (  # noqa: F401
    INGRID_PSID,
    PAGE_ID,
    PAGE_TOKEN,
    fake_graph,
    fixture,
    settings,
)


def parse(name: str, **subs: str) -> messenger.Batch:
    return messenger.parse_webhook(fixture(f"messenger/{name}.json", **subs))


def test_message_is_lifted_with_page_sender_and_time() -> None:
    [item] = parse("message").items
    assert (item.account_id, item.party, item.kind) == (PAGE_ID, INGRID_PSID, "text")
    assert item.external_id.startswith("m_ToIW8")
    assert item.text.startswith("Hallo, is er deze week")
    assert not item.echo
    assert item.timestamp is not None and item.timestamp.year == 2025


def test_attachment_names_its_cdn_url() -> None:
    [item] = parse("attachment", CDN_URL="https://cdn.fbsbx.test").items
    [ref] = item.media
    assert (ref.kind, ref.url, ref.media_id) == ("image", "https://cdn.fbsbx.test/cdn/rooster.jpg",
                                                 "")
    assert item.kind == "image" and item.text == ""


def test_echo_is_about_the_recipient_and_keeps_our_metadata() -> None:
    [item] = parse("echo", MESSAGE_ID="42", MID_OF_OUR_SEND="m_ours",
                   TEXT_OF_OUR_SEND="Tot donderdag").items
    assert item.echo and item.party == INGRID_PSID  # the person, not the page
    assert (item.echo_metadata, item.external_id) == ("zh:42", "m_ours")


def test_delivery_and_read_become_statuses() -> None:
    [delivered] = parse("delivery", MID_OF_OUR_SEND="m_ours").statuses
    assert (delivered.status, delivered.remote_ids, delivered.party) == (
        "delivered", ("m_ours",), INGRID_PSID)
    [read] = parse("read").statuses
    assert read.status == "read" and read.remote_ids == ()
    assert read.watermark is not None and read.watermark.timestamp() == 1749416883.253


def test_a_batch_yields_every_entry_and_event() -> None:
    batch = parse("batch")
    assert [i.kind for i in batch.items] == ["text", "text", "postback", "text"]
    assert [i.text for i in batch.items][2:] == ["Contact opnemen",
                                                  "Ik ben de buurvrouw van mevrouw Visser"]
    assert batch.items[1].reply_to == batch.items[0].external_id
    assert [s.status for s in batch.statuses] == ["read"]
    assert {i.party for i in batch.items} == {INGRID_PSID, "5512983746102938"}


def test_reaction_gets_a_stable_id_of_its_own() -> None:
    [item] = parse("reaction").items
    assert item.kind == "reaction" and item.text == "❤️"
    assert item.reaction_to.startswith("m_ToIW8")
    assert item.external_id == parse("reaction").items[0].external_id


def test_a_bad_event_is_rejected_alone() -> None:
    body = fixture("messenger/batch.json")
    del body["entry"][1]["messaging"][1]["sender"]
    batch = messenger.parse_webhook(body)
    assert len(batch.items) == 3
    [rejected] = batch.rejected
    assert rejected.account_id == PAGE_ID and "sender" in rejected.reason
    assert messenger.parse_webhook(rejected.raw).rejected[0].reason == rejected.reason


@pytest.mark.parametrize("body", [{"object": "whatsapp_business_account", "entry": []},
                                  {"object": "page", "entry": {}}, None])
def test_a_body_that_is_not_a_page_webhook_is_unreadable(body: object) -> None:
    with pytest.raises(Unreadable):
        messenger.parse_webhook(body)


@pytest.fixture
async def page(settings: Settings) -> AsyncIterator[messenger.MessengerSender]:  # noqa: F811
    async with httpx.AsyncClient() as http:
        yield messenger.MessengerSender(
            GraphClient(http, PAGE_TOKEN, base_url=settings.graph_api_url, timeout=5), PAGE_ID)


async def test_a_response_goes_out_as_the_send_api_documents(
        page: messenger.MessengerSender, fake_graph: FakeGraph) -> None:  # noqa: F811
    mid = await page.send_text(INGRID_PSID, "Ja, er is plek.", metadata="zh:9")
    assert mid.startswith("m_")
    [seen] = fake_graph.sends()
    assert seen.path == f"/v21.0/{PAGE_ID}/messages"
    assert seen.headers["authorization"] == f"Bearer {PAGE_TOKEN}"
    assert seen.body == {"recipient": {"id": INGRID_PSID}, "messaging_type": "RESPONSE",
                         "message": {"text": "Ja, er is plek.", "metadata": "zh:9"}}


async def test_outside_the_window_a_tag_is_required(
        page: messenger.MessengerSender, fake_graph: FakeGraph) -> None:  # noqa: F811
    await page.send_text(INGRID_PSID, "Nieuw bericht in het portaal",
                         messaging_type=messenger.MESSAGE_TAG, tag="ACCOUNT_UPDATE")
    [seen] = fake_graph.sends()
    assert (seen.body["messaging_type"], seen.body["tag"]) == ("MESSAGE_TAG", "ACCOUNT_UPDATE")
    with pytest.raises(ValueError, match="tag"):
        await page.send_text(INGRID_PSID, "x", messaging_type=messenger.MESSAGE_TAG)


async def test_send_api_errors_keep_metas_code_and_subcode(
        page: messenger.MessengerSender, fake_graph: FakeGraph) -> None:  # noqa: F811
    fake_graph.fail_next(meta_error(400, 10, "(#10) This message is sent outside of allowed "
                                    "window.", subcode=2018278))
    with pytest.raises(DeliveryFailed) as raised:
        await page.send_text(INGRID_PSID, "Hallo")
    assert (raised.value.fields["meta_code"], raised.value.fields["subcode"]) == (10, 2018278)
    fake_graph.fail_next(meta_error(503, 2, "Service temporarily unavailable"))
    with pytest.raises(ChannelError) as passing:
        await page.send_text(INGRID_PSID, "Hallo")
    assert not isinstance(passing.value, DeliveryFailed)


async def test_cdn_files_are_fetched_without_the_page_token(
        page: messenger.MessengerSender, fake_graph: FakeGraph) -> None:  # noqa: F811
    fake_graph.cdn["rooster.jpg"] = b"\xff\xd8rooster"
    assert await page.fetch_file(f"{fake_graph.url}/cdn/rooster.jpg", limit=100) == \
        b"\xff\xd8rooster"
    with pytest.raises(DeliveryFailed):
        await page.fetch_file(f"{fake_graph.url}/cdn/weg.jpg", limit=100)
