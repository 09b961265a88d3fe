"""The ``hub`` commands of this area, run as a user runs them."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from hub.cli import main
from hub.db.models import ApiToken, Client, Organisation, Staff
from hub.resources import Resources
from hub.security.passwords import verify_password
from hub.security.tokens import principal_from_bearer, token_hash
from hub.settings import Settings
from tests.records.conftest import CsvWriter
from tests.records.test_importer import GOOD


async def hub_command(*argv: str) -> int:
    """``hub ARGV`` in a thread: it runs its own event loop, like the real command."""
    return await asyncio.to_thread(main, list(argv))


async def _count(hub: Resources, model: type[Client] | type[Staff]) -> int:
    async with hub.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_import_clients_exit_codes_and_report(
        hub: Resources, org: Organisation, cli_env: Settings, write_csv: CsvWriter,
        capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_csv(GOOD[0], "1002;Hendrik;;Visser;;;;;06-123;;;;", name="fout.csv")
    assert await hub_command("import-clients", str(bad)) == 1
    out = capsys.readouterr().out
    assert "regel 3: telefoon: '06-123' is geen geldig telefoonnummer" in out
    assert await _count(hub, Client) == 0

    good = write_csv(*GOOD, GOOD[0], name="goed.csv")
    assert await hub_command("import-clients", str(good), "--dry-run") == 0
    assert "3 cliënt(en) zouden worden geïmporteerd, 1 dubbel" in capsys.readouterr().out
    assert await _count(hub, Client) == 0

    assert await hub_command("import-clients", str(good), "--org", "linde") == 0
    captured = capsys.readouterr()
    assert "regel 5 (1001): cliëntnummer 1001 staat al in regel 2" in captured.out
    assert "Klaar: 3 cliënt(en) geïmporteerd, 1 dubbel overgeslagen." in captured.out
    assert "Importeren" in captured.err  # the progress bar, on stderr
    assert await _count(hub, Client) == 3


async def test_import_clients_as_a_real_process(
        hub: Resources, org: Organisation, cli_env: Settings, write_csv: CsvWriter) -> None:
    path = write_csv("3001;Zoë;;Brüggemann;01-02-1944;;;zoe@Example.NL;0612345678;;;;",
                     encoding="cp1252")
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "hub.cli", "import-clients", str(path)],
        env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "tekenset cp1252" in done.stdout
    assert "Klaar: 1 cliënt(en) geïmporteerd" in done.stdout
    async with hub.sessions() as session:
        client = await session.scalar(select(Client).where(Client.client_number == "3001"))
    assert client is not None and client.given_name == "Zoë"


async def test_create_admin_makes_the_organisation_and_a_hashed_password(
        hub: Resources, cli_env: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("Een-Lang-Wachtwoord\n"))
    code = await hub_command("create-admin", "--org", "nieuw", "--email", "Beheer@Nieuw.TEST",
                             "--name", "Bea Heer", "--password-stdin")
    assert code == 0
    assert "admin Beheer@Nieuw.TEST created (id " in capsys.readouterr().out
    async with hub.sessions() as session:
        staff = await session.scalar(select(Staff))
        org = await session.scalar(select(Organisation).where(Organisation.slug == "nieuw"))
    assert staff is not None and org is not None
    assert (staff.organisation_id, staff.role, staff.email) == (org.id, "admin",
                                                                 "beheer@nieuw.test")
    assert verify_password(staff.password_hash, "Een-Lang-Wachtwoord")
    assert "Een-Lang" not in (staff.password_hash or "")

    monkeypatch.setattr(sys, "stdin", io.StringIO("Een-Lang-Wachtwoord\n"))
    again = await hub_command("create-admin", "--org", "nieuw", "--email", "beheer@nieuw.test",
                              "--name", "Bea", "--password-stdin")
    assert again == 2
    assert "er is al een account met e-mailadres beheer@nieuw.test" in capsys.readouterr().err


@pytest.mark.parametrize(("email", "password", "message"), [
    ("beheer@nieuw.test", "kort", "minstens 10 tekens"),
    ("geen-adres", "Een-Lang-Wachtwoord", "geen geldig e-mailadres"),
])
async def test_create_admin_refuses_bad_input_without_a_traceback(
        hub: Resources, cli_env: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], email: str, password: str, message: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    code = await hub_command("create-admin", "--email", email, "--name", "Bea",
                             "--password-stdin")
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("fout: ") and message in err and "Traceback" not in err
    assert await _count(hub, Staff) == 0


async def test_create_token_prints_a_working_token_once(
        hub: Resources, org: Organisation, cli_env: Settings,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert await hub_command("create-token", "--name", "ECD koppeling") == 0
    token = capsys.readouterr().out.strip()
    async with hub.sessions() as session, session.begin():
        row = await session.scalar(select(ApiToken))
        who = await principal_from_bearer(session, f"Bearer {token}")
    assert row is not None and row.token_hash == token_hash(token) != token
    assert (who.kind, who.organisation_id, who.name) == ("api", org.id, "ECD koppeling")
    assert await hub_command("create-token", "--org", "onbekend", "--name", "x") == 2
