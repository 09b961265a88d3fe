from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from hub.db.models import ApiToken, AuditRecord
from hub.errors import AuthError
from hub.resources import Resources
from hub.security.tokens import principal_from_bearer, revoke_token, token_hash
from tests.api.conftest import TokenOrg
from tests.factories import make_staff
from tests.helpers.auth import signed_in


async def test_only_the_hash_is_stored_and_the_bearer_finds_its_organisation(
        hub: Resources, ecd: TokenOrg) -> None:
    async with hub.sessions() as session, session.begin():
        row = await session.scalar(select(ApiToken))
        who = await principal_from_bearer(session, f"bearer  {ecd.token} ")
    assert row is not None and row.token_hash == token_hash(ecd.token)
    assert ecd.token not in row.token_hash
    assert (who.kind, who.organisation_id, who.user_id, who.role) == (
        "api", ecd.org.id, row.id, "api")
    async with hub.sessions() as session:
        row = await session.scalar(select(ApiToken))
    assert row is not None and row.last_used_at is not None


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic eDp5", "Bearer zh_unknown"])
async def test_missing_or_unknown_bearer_is_refused(
        hub: Resources, ecd: TokenOrg, header: str | None) -> None:
    async with hub.sessions() as session:
        with pytest.raises(AuthError):
            await principal_from_bearer(session, header)


async def test_a_revoked_token_is_refused(hub: Resources, ecd: TokenOrg) -> None:
    async with hub.sessions() as session, session.begin():
        token_id = await session.scalar(select(ApiToken.id))
        assert token_id is not None
        assert not await revoke_token(session, ecd.org.id + 1, token_id)  # not its org
        assert await revoke_token(session, ecd.org.id, token_id)
    async with hub.sessions() as session:
        with pytest.raises(AuthError, match="ingetrokken"):
            await principal_from_bearer(session, f"Bearer {ecd.token}")


CHALLENGE = 'Bearer realm="zorghub"'


@pytest.mark.parametrize(("headers", "challenge"), [
    ({}, CHALLENGE),
    ({"Authorization": "Basic eDp5"}, CHALLENGE),  # another scheme: no token at all
    ({"Authorization": "Bearer zh_unknown"}, f'{CHALLENGE}, error="invalid_token"'),
])
async def test_a_missing_or_wrong_token_gets_a_bearer_challenge_not_a_login(
        client: httpx.AsyncClient, ecd: TokenOrg, headers: dict[str, str],
        challenge: str) -> None:
    response = await client.get("/api/v1/clients", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge  # RFC 6750, section 3
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert error["message"].startswith("API-token ontbreekt of is ongeldig")
    assert "login" not in error.get("details", {})


async def test_a_revoked_token_is_an_invalid_token(
        client: httpx.AsyncClient, hub: Resources, ecd: TokenOrg) -> None:
    async with hub.sessions() as session, session.begin():
        token_id = await session.scalar(select(ApiToken.id))
        assert token_id is not None and await revoke_token(session, ecd.org.id, token_id)
    response = await client.post("/api/v1/clients", json={}, headers=ecd.headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'{CHALLENGE}, error="invalid_token"'


async def test_a_staff_session_without_a_token_is_forbidden_and_audited(
        client: httpx.AsyncClient, hub: Resources, ecd: TokenOrg) -> None:
    async with hub.sessions() as session, session.begin():
        staff = await make_staff(session, ecd.org, name="Bram Bakker")
    await signed_in(client, hub, staff)
    response = await client.get("/api/v1/clients")
    assert response.status_code == 403 and "www-authenticate" not in response.headers
    assert response.json()["error"]["code"] == "forbidden"
    async with hub.sessions() as session:
        denied = (await session.scalars(select(AuditRecord).where(
            AuditRecord.user_id == staff.id, AuditRecord.event == "denied"))).all()
    assert [r.object_ref for r in denied] == ["/api/v1/clients"]
