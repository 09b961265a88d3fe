"""Real mail servers on loopback for tests and the benchmark: Dovecot IMAP and a TCP
proxy that can cut or slow a connection. The SMTP server (aiosmtpd) is
``tests.helpers.smtp``, shared with the rest of the suite.

Dovecot follows shared/recipes/dovecot-test.md (beside this repository): a private
config in a temporary folder, mail owned by the ``dovecot`` user. Every user name logs in
with one password (a static passdb), so each test simply picks a fresh name and gets an
empty INBOX.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import itertools
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port

PASSWORD = "geheim"
CONFIG = """\
first_valid_uid = 1
first_valid_gid = 1
base_dir = {dir}/run
state_dir = {dir}/run
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{dir}/cert.pem
ssl_key = <{dir}/key.pem
disable_plaintext_auth = no
auth_failure_delay = 0
auth_mechanisms = plain login
mail_location = maildir:{dir}/mail/%u
mail_max_userip_connections = 50
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={dir}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {tls_port}
    ssl = yes
  }}
}}
"""


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (tests only)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60)
    return cert, key


def client_tls_context(cert: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    return context


class Dovecot:
    """A private Dovecot on 127.0.0.1 (plain + STARTTLS on ``port``, TLS on ``tls_port``)."""

    def __init__(self, folder: Path) -> None:
        self.dir = folder
        self.port = free_port()
        self.tls_port = free_port()
        self.cert = folder / "cert.pem"

    def start(self) -> None:
        if shutil.which("dovecot") is None:
            raise RuntimeError("dovecot is not installed: apt-get install -y dovecot-imapd")
        for sub in ("run", "mail"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        make_certificate(self.dir)
        (self.dir / "dovecot.conf").write_text(CONFIG.format(
            dir=self.dir, port=self.port, tls_port=self.tls_port, password=PASSWORD))
        shutil.chown(self.dir / "mail", "dovecot", "dovecot")
        os.chmod(self.dir, 0o755)
        subprocess.run(["dovecot", "-c", str(self.dir / "dovecot.conf")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start; see {self.dir / 'dovecot.log'}")

    def stop(self) -> None:
        pid_file = self.dir / "run" / "master.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), 15)

    def maildir(self, user: str) -> Path:
        return self.dir / "mail" / user

    def imap(self, user: str, password: str = "geheim") -> imaplib.IMAP4:
        """A blocking stdlib client, for putting mail in and looking at the server."""
        connection = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        connection.login(user, password)
        return connection

    def append(self, user: str, messages: Iterable[bytes], folder: str = "INBOX") -> list[int]:
        """APPEND messages; returns the UIDs Dovecot gave them (from APPENDUID)."""
        uids = []
        connection = self.imap(user)
        try:
            for raw in messages:
                status, data = connection.append(folder, "", None, raw)
                assert status == "OK", data
                uids.append(_appenduid(data))
        finally:
            connection.logout()
        return uids

    def drop_into_maildir(self, user: str, messages: Iterable[bytes]) -> int:
        """Write messages straight into the user's Maildir ``new/`` (fast bulk loading).

        Dovecot assigns UIDs when the folder is next opened. The user must have logged in
        once so the Maildir exists.
        """
        new = self.maildir(user) / "new"
        new.mkdir(parents=True, exist_ok=True)
        count = 0
        stamp = int(time.time())
        for count, raw in enumerate(messages, 1):
            path = new / f"{stamp}.M{count}P{os.getpid()}.zorghub"
            path.write_bytes(raw.replace(b"\r\n", b"\n"))
        for root, dirs, files in os.walk(self.maildir(user)):
            for name in dirs + files:
                shutil.chown(os.path.join(root, name), "dovecot", "dovecot")
        shutil.chown(self.maildir(user), "dovecot", "dovecot")
        return count


def _appenduid(data: list[Any]) -> int:
    text = data[0].decode() if isinstance(data[0], bytes) else str(data[0])
    # [APPENDUID <uidvalidity> <uid>] Append completed.
    return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])


class CutProxy:
    """A TCP proxy to ``target`` on loopback that can cut or slow the server's answers.

    ``cut_after`` closes a connection once that many bytes went from the server to the
    client (applied to the next connection only, then cleared); ``delay`` sleeps before
    forwarding each chunk from the server, to play a slow server.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.cut_after: int | None = None
        self.delay = 0.0
        self.cuts = 0
        self.connections = 0
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        limit, self.cut_after = self.cut_after, None
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        up = asyncio.create_task(self._pipe(reader, up_writer, None))
        down = asyncio.create_task(self._pipe(up_reader, writer, limit, self.delay))
        self._tasks.update((up, down))
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        for task in (up, down):
            task.cancel()
        for w in (writer, up_writer):
            w.close()
        self._tasks.difference_update((up, down))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    limit: int | None, delay: float = 0.0) -> None:
        sent = 0
        while True:
            chunk = await reader.read(4096)
            if not chunk:
                return
            if delay:
                await asyncio.sleep(delay)
            if limit is not None and sent + len(chunk) >= limit:
                writer.write(chunk[: limit - sent])
                await writer.drain()
                self.cuts += 1
                return
            sent += len(chunk)
            writer.write(chunk)
            await writer.drain()


# -- pytest fixtures (imported by the conftest of each folder that needs them) --------

_users = itertools.count(1)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    # not under pytest's tmp folder: its parents are private to root, and Dovecot's mail
    # processes run as the dovecot user
    folder = Path(tempfile.mkdtemp(prefix="zorghub-dovecot-"))
    server = Dovecot(folder)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def mail_user(dovecot: Dovecot) -> str:
    """A fresh IMAP account (its own empty INBOX) for one test."""
    return f"zorgteam{os.getpid()}x{next(_users)}"
