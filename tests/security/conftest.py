"""Fixtures of the security tests: an organisation with a staff member who has a password."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.db.engine import transaction
from hub.db.models import Organisation, Staff
from hub.resources import Resources
from tests.factories import make_org, make_staff
from tests.helpers.auth import hashed
from tests.helpers.smtp import SmtpCapture


@pytest.fixture
async def org(hub: Resources) -> Organisation:
    async with transaction(hub.sessions) as db:
        return await make_org(db, slug=hub.settings.default_org_slug)


@pytest.fixture
async def staff(hub: Resources, org: Organisation) -> Staff:
    async with transaction(hub.sessions) as db:
        return await make_staff(db, org, email="anouk@zorg.test", name="Anouk Visser",
                                password_hash=hashed())


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with SmtpCapture() as capture:
        yield capture
