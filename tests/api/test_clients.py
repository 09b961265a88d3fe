from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from hub.db.models import ApiToken, AuditRecord, CareRelationship, Client, Team
from hub.realtime.topics import access_channel
from hub.resources import Resources
from hub.security.audit import verify_chain
from hub.security.tokens import revoke_token
from tests.api.conftest import TokenOrg, new_client


async def _audit(hub: Resources) -> list[AuditRecord]:
    async with hub.sessions() as session:
        return list(await session.scalars(select(AuditRecord).order_by(AuditRecord.id)))


async def test_create_normalises_and_answers_the_record(
        client: httpx.AsyncClient, hub: Resources, ecd: TokenOrg) -> None:
    response = await client.post("/api/v1/clients", json=new_client(), headers=ecd.headers)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/clients/C1001"
    body = response.json()
    assert body["date_of_birth"] == "1941-03-07" and body["team"] == "Wijkteam Centrum"
    assert [(c["relation"], c["name"], c["email"], c["phone"]) for c in body["contacts"]] == [
        ("self", "Johanna Jong C1001", "J.deJong@example.nl", "+31612345678"),
        ("family", "Ingrid de Jong", "ingrid@familie.test", None)]
    [audit] = await _audit(hub)
    assert (audit.event, audit.user_type, audit.user_name, audit.object_ref) == (
        "create", "api", "ECD linde", f"client:{audit.client_id}")
    async with hub.sessions() as session:
        relation = await session.scalar(select(CareRelationship))
    assert relation is not None and relation.client_id == audit.client_id


async def test_lookup_by_number_is_audited(
        client: httpx.AsyncClient, hub: Resources, ecd: TokenOrg) -> None:
    await client.post("/api/v1/clients", json=new_client(), headers=ecd.headers)
    response = await client.get("/api/v1/clients/C1001", headers=ecd.headers)
    assert response.status_code == 200
    assert response.json()["contacts"][0]["phone"] == "+31612345678"
    audit = await _audit(hub)
    assert [a.event for a in audit] == ["create", "read"]
    assert audit[1].client_id == audit[0].client_id
    async with hub.sessions() as session:
        assert await verify_chain(session, ecd.org.id) is None


async def test_partial_update_changes_only_what_is_given(
        client: httpx.AsyncClient, hub: Resources, ecd: TokenOrg) -> None:
    await client.post("/api/v1/clients", json=new_client(), headers=ecd.headers)
    response = await client.patch("/api/v1/clients/C1001", headers=ecd.headers,
                                  json={"status": "beëindigd", "notes": "verhuisd"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["notes"], body["given_name"]) == ("ended", "verhuisd",
                                                                   "Johanna")
    assert body["updated_at"] is not None
    audit = (await _audit(hub))[-1]
    assert (audit.event, audit.detail) == ("change", "api: status, notes")


async def test_moving_a_client_to_another_team_moves_access_and_announces_it(
        client: httpx.AsyncClient, hub: Resources, ecd: TokenOrg) -> None:
    await client.post("/api/v1/clients", json=new_client(), headers=ecd.headers)
    pubsub = hub.redis.pubsub()
    await pubsub.subscribe(access_channel(ecd.org.id))
    try:
        await pubsub.get_message(timeout=1)  # the subscribe confirmation
        response = await client.patch("/api/v1/clients/C1001", headers=ecd.headers,
                                      json={"team": "Wijkteam Oost"})
        assert response.json()["team"] == "Wijkteam Oost"
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
    finally:
        await pubsub.aclose()
    assert message is not None
    event = json.loads(message["data"])
    async with hub.sessions() as session:
        teams = {t.name: t.id for t in await session.scalars(select(Team))}
        relations = list(await session.scalars(select(CareRelationship)))
        moved = await session.scalar(select(Client))
    assert moved is not None
    assert event == {"type": "client_team_changed", "client_id": moved.id,
                     "old_team_id": teams["Wijkteam Centrum"],
                     "new_team_id": teams["Wijkteam Oost"]}
    current = [r.team_id for r in relations if r.ends_on is None]
    ended = [r.team_id for r in relations if r.ends_on is not None]
    assert (current, ended) == ([teams["Wijkteam Oost"]], [teams["Wijkteam Centrum"]])


async def test_the_same_team_again_announces_nothing(
        client: httpx.AsyncClient, hub: Resources, ecd: TokenOrg) -> None:
    await client.post("/api/v1/clients", json=new_client(), headers=ecd.headers)
    pubsub = hub.redis.pubsub()
    await pubsub.subscribe(access_channel(ecd.org.id))
    try:
        await pubsub.get_message(timeout=1)
        response = await client.patch("/api/v1/clients/C1001", headers=ecd.headers,
                                      json={"team": "wijkteam centrum"})
        assert response.status_code == 200
        assert await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.3) is None
    finally:
        await pubsub.aclose()
    assert (await _audit(hub))[-1].detail == "api: niets gewijzigd"


async def test_listing_pages_through_every_client_once_in_a_stable_order(
        client: httpx.AsyncClient, hub: Resources, ecd: TokenOrg) -> None:
    numbers = [f"C{n}" for n in range(1, 8)]
    for number in numbers:
        response = await client.post("/api/v1/clients", json=new_client(number),
                                     headers=ecd.headers)
        assert response.status_code == 201
    seen, cursor, pages = [], None, 0
    while pages < 10:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/clients", params=params, headers=ecd.headers)).json()
        seen += [c["client_number"] for c in page["clients"]]
        pages += 1
        if pages == 1:  # a client added while paging appears on a later page
            await client.post("/api/v1/clients", json=new_client("C99"), headers=ecd.headers)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [*numbers, "C99"] and pages == 3
    reads = [a for a in await _audit(hub) if a.event == "read"]
    assert len(reads) == 8 and all(a.detail == "api: lijst" for a in reads)


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"limit": "tien"}, "limit"),
    ({"cursor": "nonsense!"}, "cursor"), ({"cursor": "eDE"}, "cursor"),
])
async def test_bad_paging_parameters_are_422(
        client: httpx.AsyncClient, ecd: TokenOrg, params: dict[str, str], field: str) -> None:
    response = await client.get("/api/v1/clients", params=params, headers=ecd.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"
    assert field in response.json()["error"]["details"]["fields"]


async def test_validation_errors_name_every_field(
        client: httpx.AsyncClient, hub: Resources, ecd: TokenOrg) -> None:
    body = new_client(family_name="", date_of_birth="31-02-1950", status="weg",
                      contacts=[{"phone": "06-123"}, {"email": "ingrid@"}], bsn="1")
    response = await client.post("/api/v1/clients", json=body, headers=ecd.headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert set(error["details"]["fields"]) == {"family_name", "date_of_birth", "status", "bsn",
                                               "contacts.0.phone", "contacts.1.email"}
    assert "geen geldig telefoonnummer" in error["details"]["fields"]["contacts.0.phone"]
    for raw in (b"{not json", b"[1, 2]"):
        bad = await client.post("/api/v1/clients", content=raw, headers=ecd.headers)
        assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_input")
    renumber = await client.post("/api/v1/clients", json=new_client(), headers=ecd.headers)
    assert renumber.status_code == 201
    refused = await client.patch("/api/v1/clients/C1001", json={"client_number": "C2"},
                                 headers=ecd.headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["fields"] == {
        "client_number": "kan niet gewijzigd worden"}
    assert [a.event for a in await _audit(hub)] == ["create"]


async def test_duplicates_are_409_with_the_reason(
        client: httpx.AsyncClient, hub: Resources, ecd: TokenOrg) -> None:
    await client.post("/api/v1/clients", json=new_client(), headers=ecd.headers)
    same_number = await client.post("/api/v1/clients", json=new_client(given_name="Anna"),
                                    headers=ecd.headers)
    same_person = await client.post("/api/v1/clients", headers=ecd.headers, json=new_client(
        "C2", family_name="JONG  c1001", given_name="Johanna", date_of_birth="1941-03-07"))
    for response, reason in ((same_number, "client_number"),
                             (same_person, "name_and_date_of_birth")):
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "duplicate_client"
        assert error["details"] == {"reason": reason, "client_number": "C1001"}
    await client.post("/api/v1/clients", json=new_client("C3"), headers=ecd.headers)
    clash = await client.patch("/api/v1/clients/C3", headers=ecd.headers,
                               json={"family_name": "Jong C1001"})
    assert clash.status_code == 409
    async with hub.sessions() as session:
        numbers = sorted(await session.scalars(select(Client.client_number)))
    assert numbers == ["C1001", "C3"]


async def test_unknown_clients_paths_and_methods_answer_json(
        client: httpx.AsyncClient, ecd: TokenOrg) -> None:
    for method, path, status, code in (
        ("GET", "/api/v1/clients/C404", 404, "not_found"),
        ("PATCH", "/api/v1/clients/C404", 404, "not_found"),
        ("GET", "/api/v1/clients/C404/contacts", 404, "not_found"),
        ("GET", "/api/v1/nothing-here", 404, "not_found"),
        ("DELETE", "/api/v1/clients", 405, "method_not_allowed"),
    ):
        response = await client.request(method, path, headers=ecd.headers,
                                         json={} if method == "PATCH" else None)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), path


async def test_missing_bad_and_revoked_tokens_are_401(
        client: httpx.AsyncClient, hub: Resources, ecd: TokenOrg) -> None:
    for headers in ({}, {"Authorization": "Bearer zh_nope"}, {"Authorization": "Basic eDp5"},
                    {"Authorization": ecd.token}):
        response = await client.get("/api/v1/clients", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "not_authenticated"
    async with hub.sessions() as session, session.begin():
        token_id = await session.scalar(select(ApiToken.id))
        assert token_id is not None and await revoke_token(session, ecd.org.id, token_id)
    response = await client.post("/api/v1/clients", json=new_client(), headers=ecd.headers)
    assert response.status_code == 401
    async with hub.sessions() as session:
        assert await session.scalar(select(Client)) is None


async def test_token_use_is_noted(
        client: httpx.AsyncClient, hub: Resources, ecd: TokenOrg) -> None:
    await client.get("/api/v1/clients", headers=ecd.headers)
    async with hub.sessions() as session:
        token = await session.scalar(select(ApiToken))
    assert token is not None and token.last_used_at is not None
