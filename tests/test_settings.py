from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.settings import Settings

ENV_EXAMPLE = Path(__file__).parent.parent / ".env.example"


def test_every_setting_is_read_from_its_environment_variable() -> None:
    settings = Settings.from_environ({
        "HUB_DATABASE_URL": "postgresql+asyncpg://db.test/hub",
        "HUB_REQUIRE_STAFF_2FA": "no",
        "HUB_SESSION_IDLE_MINUTES": "5",
        "HUB_DATA_DIR": "/var/lib/zorghub",
        "HUB_WS_HEARTBEAT_SECONDS": "2.5",
        "PATH": "/usr/bin",
    })
    assert settings.database_url == "postgresql+asyncpg://db.test/hub"
    assert settings.require_staff_2fa is False
    assert settings.session_idle_minutes == 5
    assert settings.data_dir == Path("/var/lib/zorghub")
    assert settings.ws_heartbeat_seconds == 2.5


def test_defaults_are_embedded_and_safe() -> None:
    settings = Settings.from_environ({})
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.redis_url == ""
    assert settings.require_staff_2fa is True


@pytest.mark.parametrize(("key", "value"), [("HUB_NO_SUCH_THING", "1"),
                                            ("HUB_SESSION_IDLE_MINUTES", "soon"),
                                            ("HUB_REQUIRE_STAFF_2FA", "perhaps")])
def test_bad_settings_name_the_variable(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        Settings.from_environ({key: value})


def test_env_example_lists_every_setting_with_an_explanation() -> None:
    text = ENV_EXAMPLE.read_text()
    for field in dataclasses.fields(Settings):
        name = f"HUB_{field.name.upper()}="
        assert name in text, name
        before = text.split(name)[0].rstrip().splitlines()[-1]
        assert before.startswith("# ") and len(before) > 10, name


def test_generated_secret_key_is_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    key = settings.effective_secret_key()
    assert len(key) > 40
    assert Settings(data_dir=tmp_path).effective_secret_key() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
