"""The staff chat pages over HTTP: the room list, a room, the forms, and who is refused."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from hub.chat import rooms
from hub.chat.messages import post_message
from hub.db.models import AuditRecord, Room, RoomMember
from hub.events import unit_of_work
from hub.resources import Resources
from hub.web import catalogue_chat  # noqa: F401  (registers the English texts)
from hub.web.chat_pages import mention_parts
from hub.web.i18n import has_translation
from tests.helpers.auth import signed_in
from tests.helpers.inbox import principal_of
from tests.ui.conftest import HOSTILE, World

TEMPLATES = Path(__file__).resolve().parents[2] / "hub" / "templates"
_CALL = re.compile(r"""_\(\s*(?:"([^"]+)"|'([^']+)')""")


async def _direct(hub: Resources, world: World, *texts: str) -> Room:
    """The direct room of Anna and Bram, with ``texts`` from Anna in it."""
    anna = principal_of(world.anna)
    async with unit_of_work(hub.sessions, hub.events) as db:
        room = await rooms.direct_room(db, anna, world.bram.id)
        for number, text in enumerate(texts):
            await post_message(db, anna, room.id, f"t-{number}", text, [world.bram.id])
    return room


async def test_room_list_shows_unread_newest_first_and_links_the_room(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    direct = await _direct(hub, world, "Hoi Bram", "@Bram ben je er?")
    async with unit_of_work(hub.sessions, hub.events) as db:
        group = await rooms.create_group_room(db, principal_of(world.admin), "Nachtdienst",
                                              {world.bram.id})
    await signed_in(client, hub, world.bram)
    page = await client.get("/app/chat")
    assert page.status_code == 200
    html = page.text
    assert f'href="/app/chat/{direct.id}"' in html and f'href="/app/chat/{group.id}"' in html
    assert html.index("Anna de Boer") < html.index("Nachtdienst")  # newest activity first
    row = html[html.index(f'href="/app/chat/{direct.id}"'):]
    assert re.search(r'class="badge unread"[^>]*>2<', row[:600])
    assert "@2" in row[:800]  # both mention Bram
    assert 'action="/app/chat/rooms"' not in html  # plain staff create no groups
    assert '<a href="/app/chat">' in html  # in the staff navigation


async def test_room_page_renders_messages_safely_with_mentions_marked(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    room = await _direct(hub, world, f"Let op {HOSTILE}", "@Bram kun je bellen?")
    await signed_in(client, hub, world.bram)
    page = await client.get(f"/app/chat/{room.id}")
    assert page.status_code == 200
    html = page.text
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert '<mark class="mention">@Bram</mark>' in html
    assert f'data-stream="room:{room.id}"' in html and 'data-last-seq="2"' in html
    assert re.search(r'<time datetime="[^"]+">\d\d:\d\d</time>', html)
    assert "<h1>Anna de Boer</h1>" in html  # a direct room is named after the other
    assert "/static/chat.js" in html and "<script>" not in html  # no inline script
    assert 'action="/app/chat/' not in html  # no member controls in a direct room


async def test_non_member_is_refused_and_audited_like_any_object(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    room = await _direct(hub, world, "Alleen voor ons")
    await signed_in(client, hub, world.olga)
    page = await client.get(f"/app/chat/{room.id}")
    assert page.status_code == 403
    assert "Alleen voor ons" not in page.text
    assert "geen toegang tot deze chatkamer" in page.text
    missing = await client.get("/app/chat/999999")
    assert missing.status_code == 403  # no room at all: the same answer
    async with hub.sessions() as db:
        refused = await db.scalar(select(AuditRecord).where(
            AuditRecord.object_ref == f"room:{room.id}", AuditRecord.user_id == world.olga.id))
    assert refused is not None and refused.outcome == "denied"


async def test_anonymous_is_sent_to_the_login_page(client: httpx.AsyncClient,
                                                   world: World) -> None:
    for path in ("/app/chat", "/app/chat/1"):
        page = await client.get(path)
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login?reason=")


async def test_direct_form_opens_one_room_per_pair(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    await signed_in(client, hub, world.anna)
    first = await client.post("/app/chat/direct", data={"staff_id": str(world.bram.id)})
    again = await client.post("/app/chat/direct", data={"staff_id": str(world.bram.id)})
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    async with hub.sessions() as db:
        count = len((await db.scalars(select(Room).where(Room.kind == "direct"))).all())
    assert count == 1


async def test_coordinator_forms_create_a_group_and_change_members(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    await signed_in(client, hub, world.admin)
    made = await client.post("/app/chat/rooms", data={
        "name": "Team Oost overleg", "staff_ids": [str(world.anna.id), str(world.bram.id)]})
    assert made.status_code == 303
    room_id = int(made.headers["location"].rsplit("/", 1)[1])
    page = await client.get(f"/app/chat/{room_id}")
    assert f'action="/app/chat/{room_id}/members"' in page.text
    changed = await client.post(f"/app/chat/{room_id}/members", data={
        "add": str(world.olga.id), "remove": str(world.bram.id)})
    assert changed.status_code == 303
    async with hub.sessions() as db:
        members = set((await db.scalars(select(RoomMember.staff_id).where(
            RoomMember.room_id == room_id))).all())
    assert members == {world.admin.id, world.anna.id, world.olga.id}


async def test_plain_staff_cannot_create_groups_or_change_members(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    async with unit_of_work(hub.sessions, hub.events) as db:
        group = await rooms.create_group_room(db, principal_of(world.admin), "Overleg",
                                              {world.anna.id})
    await signed_in(client, hub, world.anna)
    made = await client.post("/app/chat/rooms", data={"name": "Eigen groep"})
    assert made.status_code == 403
    changed = await client.post(f"/app/chat/{group.id}/members",
                                data={"add": str(world.olga.id)})
    assert changed.status_code == 403
    assert 'action="/app/chat/' not in (await client.get(f"/app/chat/{group.id}")).text


@pytest.mark.parametrize("path", ["/app/chat/direct", "/app/chat/rooms",
                                  "/app/chat/{room}/members"])
async def test_forms_need_the_csrf_token(client: httpx.AsyncClient, hub: Resources,
                                         world: World, path: str) -> None:
    async with unit_of_work(hub.sessions, hub.events) as db:
        group = await rooms.create_group_room(db, principal_of(world.admin), "Overleg", set())
    await signed_in(client, hub, world.admin)
    del client.headers["X-CSRF-Token"]
    response = await client.post(path.format(room=group.id), data={
        "staff_id": str(world.anna.id), "name": "Nieuw", "add": str(world.anna.id)})
    assert response.status_code == 403
    async with hub.sessions() as db:
        assert len((await db.scalars(select(Room))).all()) == 1
        assert await db.scalar(select(RoomMember).where(
            RoomMember.staff_id == world.anna.id)) is None


def test_mention_parts_split_text_and_mentions() -> None:
    assert mention_parts("Hoi @Anna, bel je?") == [
        ("Hoi ", False), ("@Anna,", True), (" bel je?", False)]
    assert mention_parts("") == []


@pytest.mark.parametrize("name", ["rooms.html", "room.html", "_message.html"])
def test_chat_template_texts_have_english(name: str) -> None:
    found = {a or b for a, b in _CALL.findall((TEMPLATES / "chat" / name).read_text())}
    texts = {t for t in found if not t.endswith(":")}
    assert texts and sorted(t for t in texts if not has_translation("en", t)) == []
    assert has_translation("en", "Chat")
