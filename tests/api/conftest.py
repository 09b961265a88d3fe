"""An organisation with an API token, and the headers to use it."""

from __future__ import annotations

import dataclasses

import pytest

from hub.db.models import Organisation
from hub.resources import Resources
from hub.security.tokens import create_token
from tests.factories import make_org


@dataclasses.dataclass
class TokenOrg:
    org: Organisation
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def token_org(hub: Resources, slug: str) -> TokenOrg:
    async with hub.sessions() as session, session.begin():
        org = await make_org(session, slug=slug)
        return TokenOrg(org, await create_token(session, org.id, f"ECD {slug}"))


@pytest.fixture
async def ecd(hub: Resources) -> TokenOrg:
    return await token_org(hub, "linde")


def new_client(number: str = "C1001", **fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "client_number": number, "given_name": "Johanna", "family_name": f"Jong {number}",
        "date_of_birth": "07-03-1941", "team": "Wijkteam Centrum",
        "contacts": [{"email": "J.deJong@Example.NL", "phone": "06-12345678"},
                     {"name": "Ingrid de Jong", "relation": "family",
                      "email": "ingrid@familie.test"}],
    }
    return body | fields
