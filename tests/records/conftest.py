"""Helpers for the client-record tests: an organisation, CSV files, table counts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.db.base import Base
from hub.db.models import Organisation
from hub.resources import Resources
from hub.settings import Settings
from tests.factories import make_org

HEADER = ("clientnummer;voornaam;tussenvoegsel;achternaam;geboortedatum;team;status;email;"
          "telefoon;contact_naam;contact_relatie;contact_email;contact_telefoon")

CsvWriter = Callable[..., Path]


@pytest.fixture
async def org(hub: Resources) -> Organisation:
    async with hub.sessions() as session, session.begin():
        return await make_org(session, slug="linde", name="Zorggroep De Linde")


@pytest.fixture
def write_csv(tmp_path: Path) -> CsvWriter:
    def write(*lines: str, name: str = "clienten.csv", encoding: str = "utf-8",
              header: str = HEADER) -> Path:
        path = tmp_path / name
        path.write_bytes(("\r\n".join((header, *lines)) + "\r\n").encode(encoding))
        return path

    return write


async def table_counts(hub: Resources) -> dict[str, int]:
    counts = {}
    async with hub.sessions() as session:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = int(await session.scalar(
                select(func.count()).select_from(table)) or 0)
    return counts


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Settings:
    """``hub ...`` run in this test reads the test's database and Redis from HUB_*."""
    monkeypatch.setenv("HUB_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HUB_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("HUB_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("HUB_DEFAULT_ORG_SLUG", "linde")
    monkeypatch.setenv("HUB_LOG_LEVEL", "WARNING")
    return settings
