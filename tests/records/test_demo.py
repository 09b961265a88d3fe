from __future__ import annotations

import collections
import datetime as dt
from typing import Any

import phonenumbers
import pytest
from sqlalchemy import select

from hub.chat import rooms
from hub.db.models import (
    CareRelationship,
    ChatMessage,
    Client,
    ClientContact,
    Conversation,
    Message,
    Organisation,
    PortalLink,
    PortalUser,
    Room,
    Shift,
    Staff,
    Team,
    TeamMembership,
)
from hub.records.demo import logins, print_logins, seed_demo
from hub.resources import Resources
from hub.security.access import can_see_client
from hub.security.passwords import verify_password
from hub.security.principal import Principal
from hub.settings import Settings
from tests.records.conftest import table_counts


async def _all(hub: Resources, model: type[Any]) -> list[Any]:
    async with hub.sessions() as session:
        return list(await session.scalars(select(model)))


async def test_demo_organisation_has_what_was_promised(hub: Resources, settings: Settings) -> None:
    printed = await seed_demo(settings)
    [org] = await _all(hub, Organisation)
    assert (org.slug, org.name) == (settings.default_org_slug, "Zorggroep De Linde")
    assert len(await _all(hub, Team)) == 2
    staff = await _all(hub, Staff)
    roles = collections.Counter(s.role for s in staff)
    assert roles == {"admin": 1, "coordinator": 2, "staff": 9}
    assert [s.role for s in staff if s.is_privacy_officer] == ["staff"]
    memberships = await _all(hub, TeamMembership)
    coordinated = collections.Counter(m.team_id for m in memberships if m.is_coordinator)
    assert sorted(coordinated.values()) == [1, 1]
    clients = await _all(hub, Client)
    assert len(clients) == 30
    contacts = await _all(hub, ClientContact)
    assert {c.relation for c in contacts} == {"self", "family", "legal_representative"}
    assert {c.client_id for c in contacts if c.relation == "self"} == {c.id for c in clients}
    assert all(c.email.endswith((".test", "@example.nl")) for c in contacts if c.email)
    for contact in contacts:
        assert contact.phone is not None
        assert phonenumbers.is_valid_number(phonenumbers.parse(contact.phone))
        assert contact.whatsapp_id in (None, contact.phone[1:])
    assert sum(1 for c in contacts if c.whatsapp_id) >= 5
    relations = await _all(hub, CareRelationship)
    assert {r.client_id for r in relations if r.team_id} == {c.id for c in clients}
    assert {r.client_id for r in relations if r.staff_id} == {c.id for c in clients}
    shifts = await _all(hub, Shift)
    days = {s.starts_at.date() for s in shifts}
    assert len(shifts) == 28 and len(days) == 7 and all(s.staff_id for s in shifts)
    assert max(days) - min(days) == dt.timedelta(days=6)
    await _check_conversations(hub)
    await _check_portal(hub, clients)
    await _check_chat(hub, staff)
    assert len(printed) == 14


async def _check_chat(hub: Resources, staff: list[Staff]) -> None:
    """A room per team and a direct conversation, with messages a colleague has not
    read yet (what the chat pages show at first login)."""
    room_list = await _all(hub, Room)
    assert sorted(r.kind for r in room_list) == ["direct", "team", "team"]
    chat = await _all(hub, ChatMessage)
    for room in room_list:
        seqs = sorted(m.seq for m in chat if m.room_id == room.id)
        assert seqs == list(range(1, room.last_seq + 1)) and seqs
    sanne = next(s for s in staff if s.email.startswith("sanne.dewit"))
    daan = next(s for s in staff if s.email.startswith("daan.smits"))
    assert any(daan.id in (m.mentions or []) for m in chat)
    async with hub.sessions() as session:
        listed = await rooms.list_rooms(session, Principal(
            "staff", sanne.organisation_id, sanne.id, sanne.name, sanne.role))
    assert [(r["kind"], r["unread"]) for r in listed] == [("team", 3)]


async def _check_conversations(hub: Resources) -> None:
    conversations = await _all(hub, Conversation)
    messages = await _all(hub, Message)
    assert {c.channel for c in conversations} == {"email", "whatsapp", "portal"}
    for conversation in conversations:
        seqs = sorted(m.seq for m in messages if m.conversation_id == conversation.id)
        assert seqs == list(range(1, len(seqs) + 1)) and seqs
        assert conversation.last_seq == len(seqs)
    assert {m.direction for m in messages} == {"in", "out"}


async def _check_portal(hub: Resources, clients: list[Client]) -> None:
    users = {u.id: u for u in await _all(hub, PortalUser)}
    links = await _all(hub, PortalLink)
    assert len(users) == 2
    assert sorted(link.relation for link in links) == ["legal_representative", "self"]
    daughter = next(link for link in links if link.relation == "legal_representative")
    async with hub.sessions() as session:
        who = Principal("portal", daughter.organisation_id, daughter.portal_user_id,
                        users[daughter.portal_user_id].name, "portal")
        assert await can_see_client(session, who, daughter.client_id)
        other = next(c.id for c in clients if c.id != daughter.client_id)
        assert not await can_see_client(session, who, other)


async def test_running_the_demo_twice_changes_nothing(
        hub: Resources, settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    print_logins(await seed_demo(settings), settings.base_url)
    first = capsys.readouterr().out
    counts = await table_counts(hub)
    print_logins(await seed_demo(settings), settings.base_url)
    assert capsys.readouterr().out == first
    assert await table_counts(hub) == counts
    assert "http://127.0.0.1:8000/login" in first
    assert "http://127.0.0.1:8000/portal/login" in first
    assert "tweede factor" in first
    for login in logins():
        assert f"{login.email}" in first and login.password == "Demo-Zorg-2026"


async def test_demo_passwords_work(hub: Resources, settings: Settings) -> None:
    printed = await seed_demo(settings)
    staff = {s.email: s for s in await _all(hub, Staff)}
    portal = {p.email: p for p in await _all(hub, PortalUser)}
    checked: set[tuple[str | None, str]] = set()
    for login in printed:
        account = (portal if login.portal else staff)[login.email]
        assert account.name == login.name
        checked.add((account.password_hash, login.password))
    # argon2 is slow on purpose: check each distinct (hash, password) pair once
    assert all(verify_password(hashed, password) for hashed, password in checked)
