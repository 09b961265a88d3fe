"""`hub run` as a real subprocess on a fresh data folder: SQLite, private Redis, worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import free_port


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_DATA_DIR=str(tmp_path / "data"), HUB_LOG_LEVEL="WARNING")
    return env


def _wait_healthy(url: str, process: subprocess.Popen[bytes], seconds: float) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "hub run exited early"
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("hub run did not answer in time")


def _wait_worker_alive(socket: Path, seconds: float) -> None:
    """The arq worker records its health in Redis once it polls for jobs."""
    client = redis.Redis(unix_socket_path=str(socket))
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if client.get("arq:queue:health-check"):
                return
            time.sleep(0.2)
    finally:
        client.close()
    raise AssertionError("the worker did not start")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_hub_run_serves_healthz_and_cleans_up(tmp_path: Path, stop: signal.Signals) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "run", "--port", str(port)],
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        response = _wait_healthy(f"http://127.0.0.1:{port}/healthz", process, 60)
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": True, "redis": True}
        assert (tmp_path / "data" / "hub.sqlite3").exists()
        assert (tmp_path / "data" / "redis" / "redis.sock").exists()
        _wait_worker_alive(tmp_path / "data" / "redis" / "redis.sock", 30)
    finally:
        process.send_signal(stop)
        output = process.communicate(timeout=30)[0].decode()
    assert f"http://127.0.0.1:{port}/" in output
    assert not (tmp_path / "data" / "redis" / "redis.sock").exists(), output
    assert not _processes_using(tmp_path), "the worker or Redis outlived hub run"


def _processes_using(folder: Path) -> list[str]:
    """Command lines of live processes that mention ``folder`` (worker, redis-server)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (cmdline.parent / "environ").read_bytes()
        except OSError:
            continue
        if str(folder) in text or str(folder).encode() in environ:
            found.append(text)
    return found
