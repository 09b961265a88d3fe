"""Connecting a WhatsApp number or Facebook Page (``hub add-channel``), and answering
through the inbox's reply dispatcher once it is connected."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.cli import main
from hub.db.models import ChannelAccount, Staff
from hub.inbox.attachments import AttachmentStore, FileData
from hub.inbox.dispatch import ReplyContext, send_reply
from hub.resources import Resources
from hub.settings import Settings
from tests.factories import make_org
from tests.helpers.inbox import principal_of
from tests.webhooks.fixtures import (  # noqa: F401
    MetaWorld,
    ago,
    conversations,
    fake_graph,
    meta_world,
    raw_fixture,
    settings,
    take_in,
    worker_ctx,
)


async def _hub(monkeypatch: pytest.MonkeyPatch, settings: Settings, token: str,  # noqa: F811
               *argv: str) -> int:
    for name, value in (("HUB_DATABASE_URL", settings.database_url),
                        ("HUB_REDIS_URL", settings.redis_url),
                        ("HUB_DATA_DIR", str(settings.data_dir)),
                        ("HUB_LOG_LEVEL", "WARNING")):
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    return await asyncio.to_thread(main, ["add-channel", *argv])


async def test_add_channel_connects_updates_and_refuses_what_is_wrong(
        hub: Resources, settings: Settings, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    async with hub.sessions.begin() as db:
        await make_org(db, slug="linde")
        await make_org(db, slug="eik")
    args = ("--org", "linde", "--kind", "whatsapp", "--account-id", "106540352242922",
            "--name", "WhatsApp Zorgteam", "--token-stdin")
    assert await _hub(monkeypatch, settings, "EAA-eerste", *args,
                      "--notice-template", "nieuw_bericht_portaal") == 0
    assert "gekoppeld voor linde" in capsys.readouterr().out
    assert await _hub(monkeypatch, settings, "EAA-tweede", *args) == 0  # token rotated
    assert "bijgewerkt" in capsys.readouterr().out
    async with hub.sessions() as db:
        [row] = (await db.scalars(select(ChannelAccount))).all()
    assert (row.kind, row.access_token, row.notice_template, row.enabled) == (
        "whatsapp", "EAA-tweede", "", True)
    # the same number cannot be taken over by another organisation
    assert await _hub(monkeypatch, settings, "EAA-x", "--org", "eik", *args[2:]) == 2
    assert "andere organisatie" in capsys.readouterr().err
    assert await _hub(monkeypatch, settings, "EAA-x", "--org", "linde", "--kind", "messenger",
                      "--account-id", "pagina", "--name", "Pagina", "--token-stdin") == 2
    assert await _hub(monkeypatch, settings, "", *args) == 2  # no token
    async with hub.sessions() as db:
        assert len((await db.scalars(select(ChannelAccount))).all()) == 1


async def test_the_inbox_dispatcher_answers_whatsapp_through_the_send_queue(
        worker_ctx: dict[str, Any], hub: Resources, meta_world: MetaWorld,  # noqa: F811
        tmp_path: Path) -> None:
    await take_in(worker_ctx, "whatsapp", raw_fixture("whatsapp/text.json"))
    [conversation] = await conversations(hub)
    ctx = ReplyContext(hub.settings, AttachmentStore(tmp_path))
    async with hub.sessions.begin() as db:
        conversation = await db.merge(conversation)
        conversation.last_inbound_at = ago(minutes=5)
        carer = principal_of(await db.get(Staff, meta_world.carer_id))
        message = await send_reply(db, carer, ctx, conversation.id, "Komt goed.",
                                   reply_id="r1")
        with pytest.raises(Exception, match="Bijlagen"):
            await send_reply(db, carer, ctx, conversation.id, "Zie bijlage", reply_id="r2",
                             files=[FileData("a.pdf", "application/pdf", b"%PDF")])
    assert (message.channel, message.delivery_status) == ("whatsapp", "queued")
    assert message.sender_staff_id == meta_world.carer_id
