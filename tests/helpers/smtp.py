"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives: the one test
SMTP server of the suite (notification mail, the mail channel's replies, the workers).

    with SmtpCapture() as smtp:
        settings = settings.with_changes(**smtp.settings())
        ...
        mail = await smtp.wait_for(1)

It can refuse a recipient at RCPT time (``smtp.refuse[address] = "550 ..."``), require
STARTTLS (``tls_context=``, see ``server_tls_context``) and a login (``auth=``).
``envelopes`` holds what was accepted as sent (``mail_from``, ``rcpt_tos``, bytes),
``messages`` the same parsed with ``email.policy.default``.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.conftest import free_port


class _Recorder:
    """The aiosmtpd handler: keeps every accepted envelope; refuses listed recipients."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        # recipient -> the reply at RCPT time, e.g. "550 5.1.1 No such user" or a 451
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == self.user
              and auth_data.password == self.password)
        # handled=False: aiosmtpd itself answers 535 on failure
        return AuthResult(success=ok, handled=False)


class SmtpCapture:
    """A real aiosmtpd server in its own thread; ``start``/``stop`` or ``with``."""

    def __init__(self, tls_context: ssl.SSLContext | None = None,
                 auth: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.handler = _Recorder()
        kwargs: dict[str, Any] = {}
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        if auth is not None:
            kwargs.update(authenticator=_Authenticator(*auth),
                          auth_require_tls=tls_context is not None)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     **kwargs)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpCapture:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def refuse(self) -> dict[str, str]:
        return self.handler.refuse

    @property
    def envelopes(self) -> list[Envelope]:
        return self.handler.envelopes

    @property
    def messages(self) -> list[EmailMessage]:
        return [parse(envelope) for envelope in self.handler.envelopes]

    def settings(self) -> dict[str, Any]:
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_security": "none"}

    async def wait_for(self, count: int, seconds: float = 5.0) -> list[EmailMessage]:
        """The mails received, once there are ``count`` (the server runs in a thread)."""
        deadline = time.monotonic() + seconds
        for _ in range(int(seconds / 0.02) + 1):  # polled: another thread appends
            if len(self.envelopes) >= count or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        assert len(self.envelopes) >= count, f"expected {count} mails, got {len(self.envelopes)}"
        return self.messages


def parse(envelope: Envelope) -> EmailMessage:
    content = envelope.content
    assert isinstance(content, bytes)
    message = message_from_bytes(content, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """What the server side of STARTTLS needs (e.g. the Dovecot fixture's test certificate)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def link_in(message: EmailMessage, base_url: str) -> str:
    """The path of the one link to this hub in a mail body."""
    match = re.search(re.escape(base_url.rstrip("/")) + r"(/\S+)", body_of(message))
    assert match, "no link in the mail"
    return match.group(1)


@pytest.fixture
def smtp_server() -> Iterator[SmtpCapture]:
    """A plain SMTP server for one test (import it in the conftest that needs it)."""
    with SmtpCapture() as server:
        yield server
