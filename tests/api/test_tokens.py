from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.db.models import ApiToken
from hub.errors import AuthError
from hub.resources import Resources
from hub.security.tokens import principal_from_bearer, revoke_token, token_hash
from tests.api.conftest import TokenOrg


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
