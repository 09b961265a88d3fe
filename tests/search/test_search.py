"""Full-text search: finds by word and prefix, shows only what the user may see, audited."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.engine import transaction
from hub.db.models import AuditRecord, Client, Conversation, Message, Organisation, Staff
from hub.inbox import actions
from hub.resources import Resources
from hub.search import postgres, search
from hub.search.service import _message_query
from hub.search.terms import snippet, terms
from tests.factories import (
    make_client,
    make_conversation,
    make_org,
    make_portal_user,
    make_staff,
    make_team,
)
from tests.helpers.explain import plan_nodes
from tests.helpers.inbox import inbound, principal_of


@dataclasses.dataclass
class World:
    org: Organisation
    anna: Staff
    client: Client
    hidden: Client
    conversation: Conversation
    hidden_conversation: Conversation


async def _world(db: AsyncSession) -> World:
    org = await make_org(db)
    team = await make_team(db, org)
    anna = await make_staff(db, org, team=team)
    client = await make_client(db, org, team=team, given_name="Willemijn",
                               family_name="Brouwer", client_number="C-7781")
    hidden = await make_client(db, org, given_name="Willem", family_name="Brouwers")
    conversation = await make_conversation(db, org, client=client)
    hidden_conversation = await make_conversation(db, org, client=hidden)
    await inbound(db, conversation, "Kan de afspraak van dinsdag verzet worden?",
                  subject="Verzetten afspraak")
    await inbound(db, hidden_conversation, "Afspraak met de huisarts is donderdag")
    return World(org, anna, client, hidden, conversation, hidden_conversation)


async def test_finds_visible_messages_by_word_and_prefix(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        anna = principal_of(w.anna)
        for query in ("afspraak", "AFSPR", "dinsdag afspraak", "verzet"):
            found = await search(db, anna, query)
            assert [h.message.conversation_id for h in found.messages] == [
                w.conversation.id], query
        assert (await search(db, anna, "huisarts")).empty
        hit = (await search(db, anna, "dinsdag")).messages[0]
        assert hit.client_name == w.client.full_name
        assert ("dinsdag", True) in hit.segments


async def test_finds_visible_clients_by_name_and_number(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        anna = principal_of(w.anna)
        for query in ("willem", "Brouw", "willemijn brouwer", "7781"):
            found = await search(db, anna, query)
            assert [h.client.id for h in found.clients] == [w.client.id], query
        other = await make_org(db)
        outsider = await make_staff(db, other)
        assert (await search(db, principal_of(outsider), "willem")).empty


async def test_notes_are_found_by_staff_only(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        w.conversation.channel = "portal"
        await actions.add_note(db, principal_of(w.anna), w.conversation.id,
                               "Dochter belt over medicatieschema")
        assert (await search(db, principal_of(w.anna), "medicatieschema")).messages
        portal = principal_of(await make_portal_user(db, w.org, clients=(w.client,)))
        assert (await search(db, portal, "medicatieschema")).empty
        assert (await search(db, portal, "dinsdag")).messages


async def test_every_search_is_audited(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        await search(db, principal_of(w.anna), "brouwer")
        line = await db.scalar(select(AuditRecord).where(AuditRecord.event == "search"))
        assert line is not None and line.user_id == w.anna.id
        assert "brouwer" in line.detail and str(w.client.id) in line.detail
        assert str(w.hidden.id) not in line.detail.split("cliënten [")[-1]


HOSTILE = ['"', "a* OR b", "NEAR(a b)", "x:* & !y", "'; DROP TABLE messages; --",
           "body_text:afspraak", "(((", "ä" * 500, "AND", "_", "afspraak:* | huisarts"]


async def test_hostile_queries_are_just_words(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        for query in HOSTILE:
            found = await search(db, principal_of(w.anna), query)
            assert all(h.message.conversation_id == w.conversation.id
                       for h in found.messages), query
        found = await search(db, principal_of(w.anna), "afspraak:* | huisarts")
        assert found.empty  # "huisarts" is a word to match, not an OR


async def test_the_index_follows_updates_and_deletes(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        anna = principal_of(w.anna)
        await db.execute(update(Message).where(Message.conversation_id == w.conversation.id)
                         .values(body_text="Graag een nieuwe rolstoel"))
        assert (await search(db, anna, "dinsdag")).empty
        assert (await search(db, anna, "rolstoel")).messages
        await db.execute(delete(Message).where(Message.conversation_id == w.conversation.id))
        assert (await search(db, anna, "rolstoel")).empty
        await db.execute(update(Client).where(Client.id == w.client.id)
                         .values(family_name="Verhoeven"))
        assert (await search(db, anna, "verhoeven")).clients


async def test_postgres_search_uses_the_gin_index(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        if db.get_bind().dialect.name != "postgresql":
            pytest.skip("PostgreSQL only: SQLite searches its FTS5 table by construction")
        w = await _world(db)
        # with a handful of rows a sequential scan is cheaper; forbid it to see whether
        # the query's expression matches the index at all
        await db.execute(text("SET LOCAL enable_seqscan = off"))
        query = select(Message).where(postgres.message_match(["afspraak"]))
        nodes = await plan_nodes(db, query)
        assert "ix_search_messages" in {n.get("Index Name") for n in nodes}
        assert len((await db.scalars(query)).all()) == 2
        assert len((await db.execute(_message_query(principal_of(w.anna), ["afspraak"],
                                                    True))).all()) == 1


def test_terms_keep_words_only() -> None:
    assert terms('"Jan*" AND (bakker) -x:y') == ["jan", "and", "bakker", "x", "y"]
    assert len(terms("a " * 50)) == 1


def test_snippet_highlights_matches_without_accents() -> None:
    pieces = snippet("Beste mevrouw, de cliënt heeft koorts.", ["client"])
    assert ("cliënt", True) in pieces
    assert "".join(p for p, _ in pieces) == "Beste mevrouw, de cliënt heeft koorts."
    long = snippet("woord " * 100 + "koorts " + "woord " * 100, ["koorts"])
    assert long[0] == ("…", False) and long[-1] == ("…", False)
    assert ("koorts", True) in long


async def test_postgres_client_search_uses_the_gin_index(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        if db.get_bind().dialect.name != "postgresql":
            pytest.skip("PostgreSQL only")
        w = await _world(db)
        await db.execute(text("SET LOCAL enable_seqscan = off"))
        query = select(Client).where(postgres.client_match(["brouw"]))
        nodes = await plan_nodes(db, query)
        assert "ix_search_clients" in {n.get("Index Name") for n in nodes}
        assert {c.id for c in (await db.scalars(query)).all()} == {w.client.id, w.hidden.id}
