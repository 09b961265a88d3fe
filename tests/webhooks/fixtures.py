"""Shared by the WhatsApp/Messenger tests: the fake Graph API, settings pointing at it,
the replayed JSON fixtures and a small organisation with both channels connected.

Import the fixtures explicitly where they are used (as the mail tests do)::

    from tests.webhooks.fixtures import fake_graph, meta_world, settings, worker_ctx  # noqa
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.db.models import ChannelAccount, Conversation, Message, Organisation, WebhookDelivery
from hub.inbox.store import NewMessage, store_message
from hub.resources import Resources
from hub.settings import Settings
from tests.factories import make_client, make_contact, make_org, make_staff, make_team
from tests.webhooks.fake_graph import FakeGraph
from workers.webhooks import process_webhook

FIXTURES = Path(__file__).parent.parent / "fixtures" / "meta"
APP_SECRET = "test-app-secret-9f3c"
VERIFY_TOKEN = "verify-me-7d1a"
WA_NUMBER = "106540352242922"  # phone_number_id in the fixtures
WA_TOKEN = "EAAtest-whatsapp-token"
PAGE_ID = "112233445566778"  # page id in the fixtures
PAGE_TOKEN = "EAAtest-page-token"
INGRID_WA = "31612345678"  # the daughter who writes in the fixtures
INGRID_PSID = "7039281726354612"
NOTICE_TEMPLATE = "nieuw_bericht_portaal"


def raw_fixture(name: str, **subs: str) -> bytes:
    """The fixture's bytes, with placeholders (MESSAGE_ID, CDN_URL, ...) filled in."""
    text = (FIXTURES / name).read_text()
    for key, value in subs.items():
        text = text.replace(key, value)
    return text.encode()


def fixture(name: str, **subs: str) -> Any:
    return json.loads(raw_fixture(name, **subs))


@pytest.fixture(scope="session")
def fake_graph() -> Iterator[FakeGraph]:
    server = FakeGraph()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings: Settings, fake_graph: FakeGraph) -> Settings:
    """The suite's settings, with the Graph API on loopback and Meta's secrets set."""
    fake_graph.reset()
    fake_graph.whatsapp[WA_NUMBER] = WA_TOKEN
    fake_graph.pages[PAGE_ID] = PAGE_TOKEN
    return settings.with_changes(graph_api_url=fake_graph.api_url,
                                 meta_app_secret=APP_SECRET, meta_verify_token=VERIFY_TOKEN,
                                 graph_timeout_seconds=5.0)


@pytest.fixture
async def worker_ctx(hub: Resources) -> AsyncIterator[dict[str, Any]]:
    """What arq hands a job: the resources, and the worker's HTTP client."""
    async with httpx.AsyncClient() as http:
        yield {"hub": hub, "meta_http": http, "job_try": 1}


@dataclasses.dataclass
class MetaWorld:
    org_id: int
    team_id: int
    carer_id: int
    client_id: int
    ingrid_id: int  # contact: daughter of the client, on WhatsApp and Messenger
    whatsapp_id: int  # ChannelAccount ids
    messenger_id: int


@pytest.fixture
async def meta_world(hub: Resources) -> MetaWorld:
    async with hub.sessions.begin() as db:
        org = await make_org(db)
        team = await make_team(db, org)
        carer = await make_staff(db, org, team=team, name="Fatima el Amrani")
        client = await make_client(db, org, team=team, given_name="Henk",
                                   family_name="Visser", caseload_of=carer)
        ingrid = await make_contact(db, client, name="Ingrid Visser", relation="family",
                                    whatsapp_id=INGRID_WA, messenger_psid=INGRID_PSID,
                                    email="ingrid.visser@familie.test")
        wa = ChannelAccount(organisation_id=org.id, kind="whatsapp",
                            external_account_id=WA_NUMBER, name="WhatsApp Zorgteam",
                            access_token=WA_TOKEN, notice_template=NOTICE_TEMPLATE)
        page = ChannelAccount(organisation_id=org.id, kind="messenger",
                              external_account_id=PAGE_ID, name="Thuiszorg De Linde",
                              access_token=PAGE_TOKEN)
        db.add_all([wa, page])
        await db.flush()
        return MetaWorld(org.id, team.id, carer.id, client.id, ingrid.id, wa.id, page.id)


async def take_in(ctx: dict[str, Any], source: str, raw: bytes) -> int:
    """Store ``raw`` as the endpoint would and run the worker job on it; the delivery id."""
    hub: Resources = ctx["hub"]
    async with hub.sessions.begin() as db:
        delivery = WebhookDelivery(source=source, raw=raw)
        db.add(delivery)
        await db.flush()
        delivery_id = delivery.id
    await process_webhook(ctx, delivery_id)
    return delivery_id


async def messages(hub: Resources, **where: Any) -> list[Message]:
    async with hub.sessions() as db:
        query = select(Message).order_by(Message.id)
        for name, value in where.items():
            query = query.where(getattr(Message, name) == value)
        return list((await db.scalars(query)).all())


async def conversations(hub: Resources, **where: Any) -> list[Conversation]:
    async with hub.sessions() as db:
        query = select(Conversation).order_by(Conversation.id)
        for name, value in where.items():
            query = query.where(getattr(Conversation, name) == value)
        return list((await db.scalars(query)).all())


def ago(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(**delta)


# --- building blocks of the processing tests ----------------------------------------


async def delivery_row(hub: Resources, delivery_id: int) -> WebhookDelivery:
    async with hub.sessions() as db:
        found = await db.get(WebhookDelivery, delivery_id)
        assert found is not None
        return found


async def outbound(hub: Resources, conversation_id: int, text: str, *, remote_id: str | None,
                   status: str = "sent", at: dt.datetime | None = None) -> int:
    """One of our own sends, as the send job leaves it."""
    async with hub.sessions.begin() as db:
        conversation = await db.get(Conversation, conversation_id)
        assert conversation is not None
        message, _ = await store_message(db, conversation, NewMessage(
            channel=conversation.channel, direction="out", body_text=text,
            external_id=f"{conversation.channel}-out:{hashlib.md5(text.encode()).hexdigest()}",
            delivery_status=status, created_at=at))
        message.remote_id = remote_id
        return message.id


async def first_conversation(ctx: dict[str, Any], world: MetaWorld,
                             source: str = "whatsapp") -> int:
    """Ingrid's conversation, made by her text message."""
    name = "text" if source == "whatsapp" else "message"
    await take_in(ctx, source, raw_fixture(f"{source}/{name}.json"))
    [conversation] = await conversations(ctx["hub"], channel=source)
    return conversation.id


def with_first_message(payload: Any, **changes: Any) -> bytes:
    """A WhatsApp fixture with its first message changed (a new id, other text...)."""
    body = copy.deepcopy(payload)
    body["entry"][0]["changes"][0]["value"]["messages"][0].update(changes)
    return json.dumps(body).encode()


async def organisation(db: Any, world: MetaWorld) -> Organisation:
    found = await db.get(Organisation, world.org_id)
    assert found is not None
    return found
