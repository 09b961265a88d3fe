"""The WhatsApp adapter: Meta's documented webhook payloads in, Cloud API calls out.

Parsing replays the JSON fixtures in ``tests/fixtures/meta/whatsapp``; sending talks to
the local fake Graph API (``tests.webhooks.fake_graph``), which checks every request as
Meta documents it and answers as Meta does.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator

import httpx
import pytest

from hub.channels import whatsapp
from hub.channels.graph import GraphClient, describe
from hub.channels.items import Unreadable
from hub.errors import ChannelError, DeliveryFailed, PayloadTooLarge
from hub.settings import Settings
from tests.webhooks.fake_graph import FakeGraph, meta_error
from tests.webhooks.fixtures import (  # noqa: F401
    INGRID_WA,
    WA_NUMBER,
    WA_TOKEN,
    fake_graph,
    fixture,
    settings,
)


def parse(name: str) -> whatsapp.Batch:
    return whatsapp.parse_webhook(fixture(f"whatsapp/{name}.json"))


def test_text_message_is_lifted_with_sender_profile_and_time() -> None:
    batch = parse("text")
    assert not batch.rejected and not batch.statuses
    [item] = batch.items
    assert item.external_id.startswith("wamid.HBgL")
    assert (item.account_id, item.party, item.kind) == (WA_NUMBER, INGRID_WA, "text")
    assert item.profile_name == "Ingrid"
    assert item.text.startswith("Goedemorgen, mijn vader")
    assert item.timestamp is not None and int(item.timestamp.timestamp()) == 1749416383


@pytest.mark.parametrize(("name", "kind", "media_id", "mime", "filename", "text"), [
    ("image", "image", "1043526210396551", "image/jpeg", "", "Foto van de wond aan zijn been"),
    ("document", "document", "2206513669821552", "application/pdf",
     "medicatieoverzicht.pdf", "Medicatieoverzicht van de apotheek"),
    ("audio", "audio", "917240453850263", "audio/ogg; codecs=opus", "", ""),
])
def test_media_messages_name_their_media_id(name: str, kind: str, media_id: str, mime: str,
                                            filename: str, text: str) -> None:
    [item] = parse(name).items
    assert item.kind == kind and item.text == text
    [ref] = item.media
    assert (ref.kind, ref.media_id, ref.mime_type, ref.filename) == (kind, media_id, mime,
                                                                     filename)
    assert ref.url == ""  # WhatsApp gives an id; the URL comes from GET /{media-id}


@pytest.mark.parametrize(("name", "text", "reply_to"), [
    ("interactive_button_reply", "Ja, dat past", "GBIwQTZFQzk3NjY1RjA5NzhBQzYA"),
    ("interactive_list_reply", "Middag - Tussen 13:00 en 17:00", "GBJDN0U3RjNCMzMwQkI5QjQ2ODkA"),
    ("button", "Open het portaal", "GBI5RTNBMjk2QzM1NDhFQ0NBNDcA"),
])
def test_replies_to_buttons_and_lists_read_as_their_title(name: str, text: str,
                                                          reply_to: str) -> None:
    [item] = parse(name).items
    assert item.text == text
    assert item.reply_to.endswith(reply_to)


def test_reaction_names_emoji_and_the_message_it_is_about() -> None:
    [item] = parse("reaction").items
    assert item.kind == "reaction" and item.text == "👍"
    assert item.reaction_to.endswith("GBIwQTZFQzk3NjY1RjA5NzhBQzYA")


def test_unsupported_type_still_becomes_an_item_saying_why() -> None:
    [item] = parse("unsupported").items
    assert item.kind == "unsupported"
    assert "niet worden getoond" in item.text and "Message type unknown" in item.text


def test_statuses_keep_their_order_and_a_failure_keeps_metas_words() -> None:
    statuses = parse("statuses").statuses
    assert [s.status for s in statuses] == ["read", "delivered", "sent"]
    assert {s.remote_ids for s in statuses} == {(statuses[0].remote_ids[0],)}
    [failed] = parse("status_failed").statuses
    assert failed.status == "failed" and failed.party == INGRID_WA
    assert failed.error == "Message undeliverable: Message Undeliverable. (Meta-code 131026)"


def test_a_batch_yields_every_entry_change_message_and_status() -> None:
    batch = parse("batch")
    assert [i.text[:14] for i in batch.items] == [
        "Eerste bericht", "Goedemiddag, i", "Tweede bericht", "Locatie: Huisa"]
    assert [i.profile_name for i in batch.items] == ["Ingrid", "Kees van Dijk", "Ingrid",
                                                     "Ingrid"]
    assert [s.status for s in batch.statuses] == ["delivered", "read"]
    assert "52.0907, 5.1214" in batch.items[3].text


def test_a_bad_item_is_rejected_alone_and_its_envelope_replays() -> None:
    payload = fixture("whatsapp/batch.json")
    broken = copy.deepcopy(payload)
    del broken["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    batch = whatsapp.parse_webhook(broken)
    assert len(batch.items) == 3 and len(batch.statuses) == 2
    [rejected] = batch.rejected
    assert rejected.account_id == WA_NUMBER and "id" in rejected.reason
    # what the quarantine keeps is a delivery of just that item
    again = whatsapp.parse_webhook(rejected.raw)
    assert not again.items and [r.reason for r in again.rejected] == [rejected.reason]
    # and an item's own envelope replays to the same item
    [replayed] = whatsapp.parse_webhook(batch.items[0].raw).items
    assert replayed.external_id == batch.items[0].external_id


@pytest.mark.parametrize("body", [[], {"object": "page", "entry": []},
                                  {"object": "whatsapp_business_account"}, "x"])
def test_a_body_that_is_not_a_whatsapp_webhook_is_unreadable(body: object) -> None:
    with pytest.raises(Unreadable):
        whatsapp.parse_webhook(body)


def test_other_webhook_fields_are_not_conversation_items() -> None:
    body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "message_template_status_update",
         "value": {"event": "APPROVED", "message_template_name": "nieuw_bericht_portaal"}}]}]}
    batch = whatsapp.parse_webhook(body)
    assert not batch.items and not batch.statuses and not batch.rejected


# --- sending, against the fake Graph API --------------------------------------------


@pytest.fixture
async def sender(settings: Settings) -> AsyncIterator[whatsapp.WhatsAppSender]:  # noqa: F811
    http = httpx.AsyncClient()
    yield whatsapp.WhatsAppSender(
        GraphClient(http, WA_TOKEN, base_url=settings.graph_api_url, timeout=5), WA_NUMBER)
    await http.aclose()


async def test_text_goes_out_exactly_as_the_cloud_api_documents(
        sender: whatsapp.WhatsAppSender, fake_graph: FakeGraph) -> None:  # noqa: F811
    wamid = await sender.send_text(INGRID_WA, "Wij komen om 11 uur.", reference="zh:7")
    assert wamid.startswith("wamid.")
    [seen] = fake_graph.sends()
    assert seen.path == f"/v21.0/{WA_NUMBER}/messages"
    assert seen.headers["authorization"] == f"Bearer {WA_TOKEN}"
    assert seen.body == {"messaging_product": "whatsapp", "recipient_type": "individual",
                         "to": INGRID_WA, "type": "text",
                         "text": {"preview_url": False, "body": "Wij komen om 11 uur."},
                         "biz_opaque_callback_data": "zh:7"}


async def test_template_carries_only_the_link(sender: whatsapp.WhatsAppSender,
                                              fake_graph: FakeGraph) -> None:  # noqa: F811
    link = "https://zorg.example.nl/portal/conversations/5"
    await sender.send_template(INGRID_WA, "nieuw_bericht_portaal", "nl", link)
    [seen] = fake_graph.sends()
    assert seen.body["template"] == {
        "name": "nieuw_bericht_portaal", "language": {"code": "nl"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": link}]}]}
    assert seen.body["type"] == "template" and "text" not in seen.body


@pytest.mark.parametrize(("answer", "kind", "code"), [
    (meta_error(400, 100, "(#100) Invalid parameter"), DeliveryFailed, 100),
    (meta_error(400, 131047, "Re-engagement message"), DeliveryFailed, 131047),
    (meta_error(401, 190, "Invalid OAuth access token."), DeliveryFailed, 190),
    (meta_error(500, 1, "An unknown error occurred"), ChannelError, 1),
    (meta_error(400, 130429, "Rate limit hit"), ChannelError, 130429),
    (meta_error(429, 80007, "Rate limit issues"), ChannelError, 80007),
])
async def test_metas_errors_become_permanent_or_passing_failures(
        sender: whatsapp.WhatsAppSender, fake_graph: FakeGraph,  # noqa: F811
        answer: httpx.Response, kind: type[Exception], code: int) -> None:
    fake_graph.fail_next(answer)
    with pytest.raises(ChannelError) as raised:
        await sender.send_text(INGRID_WA, "Hallo")
    assert type(raised.value) is kind
    assert raised.value.fields["meta_code"] == code
    assert raised.value.fields["fbtrace_id"] == "AbCdEfGhIjK"
    assert f"(Meta-code {code})" in describe(raised.value)


async def test_an_unreachable_graph_api_is_a_passing_failure() -> None:
    async with httpx.AsyncClient() as http:
        graph = GraphClient(http, WA_TOKEN, base_url="http://127.0.0.1:9/v21.0", timeout=2)
        with pytest.raises(ChannelError) as raised:
            await whatsapp.WhatsAppSender(graph, WA_NUMBER).send_text(INGRID_WA, "Hallo")
    assert not isinstance(raised.value, DeliveryFailed)


async def test_media_is_looked_up_then_downloaded_with_the_token(
        sender: whatsapp.WhatsAppSender, fake_graph: FakeGraph) -> None:  # noqa: F811
    fake_graph.media["1043526210396551"] = (b"\xff\xd8jpeg-bytes", "image/jpeg")
    info, data = await sender.fetch_media("1043526210396551", limit=1000)
    assert data == b"\xff\xd8jpeg-bytes" and info.mime_type == "image/jpeg"
    lookup, download = fake_graph.requests()
    assert lookup.path == "/v21.0/1043526210396551"
    assert download.path == "/download/1043526210396551"
    assert download.headers["authorization"] == f"Bearer {WA_TOKEN}"
    with pytest.raises(PayloadTooLarge):
        await sender.fetch_media("1043526210396551", limit=5)
    with pytest.raises(DeliveryFailed, match="does not exist"):
        await sender.fetch_media("999", limit=1000)
