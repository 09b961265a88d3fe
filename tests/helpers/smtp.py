"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

    with SmtpCapture() as smtp:
        settings = settings.with_changes(**smtp.settings())
        ...
        mail = await smtp.wait_for(1)
"""

from __future__ import annotations

import asyncio
import email
import re
import socket
import time
from email.message import EmailMessage
from email.policy import default as default_policy
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Keep:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


class SmtpCapture:
    def __init__(self) -> None:
        self.port = _free_port()
        self.handler = _Keep()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpCapture:
        self.controller.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def settings(self) -> dict[str, Any]:
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_security": "none"}

    async def wait_for(self, count: int, seconds: float = 5.0) -> list[EmailMessage]:
        """The mails received, once there are ``count`` (the server runs in a thread)."""
        deadline = time.monotonic() + seconds
        for _ in range(int(seconds / 0.02) + 1):  # polled: another thread appends
            if len(self.messages) >= count or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        assert len(self.messages) >= count, f"expected {count} mails, got {len(self.messages)}"
        return self.messages


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def link_in(message: EmailMessage, base_url: str) -> str:
    """The path of the one link to this hub in a mail body."""
    match = re.search(re.escape(base_url.rstrip("/")) + r"(/\S+)", body_of(message))
    assert match, "no link in the mail"
    return match.group(1)
