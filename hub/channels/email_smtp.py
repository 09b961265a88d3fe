"""SMTP out: hand one finished message to the mailbox's SMTP server with aiosmtplib.

Failures are sorted for the retry logic of the send job: ``DeliveryFailed`` when the
server said no for good (a 5xx for the recipient or the content: retrying cannot help),
``ChannelError`` for everything that may pass (4xx, timeouts, a refused or dropped
connection, a login that fails until an admin fixes the password).
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

import aiosmtplib

from hub.errors import ChannelError, DeliveryFailed


@dataclasses.dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # tls, starttls or none
    user: str = ""
    password: str = ""
    timeout: float = 30.0
    # trust anchors for the server's certificate; None means the system's
    tls_context: ssl.SSLContext | None = None


@dataclasses.dataclass(frozen=True)
class SendReceipt:
    response: str
    # recipients the server refused while it accepted others: address -> reason
    refused: dict[str, str]


class SmtpSender:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, message: EmailMessage, sender: str,
                   recipients: Sequence[str]) -> SendReceipt:
        cfg = self.config
        try:
            errors, response = await aiosmtplib.send(
                message, sender=sender, recipients=list(recipients), hostname=cfg.host,
                port=cfg.port, username=cfg.user or None, password=cfg.password or None,
                use_tls=cfg.security == "tls", start_tls=cfg.security == "starttls",
                tls_context=cfg.tls_context, timeout=cfg.timeout)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise _refused(exc.recipients, cfg.host) from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise ChannelError(f"SMTP login refused: {exc.code} {exc.message}",
                               host=cfg.host) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(exc.code, exc.message, cfg.host) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise ChannelError(f"SMTP: {exc!r}", host=cfg.host) from exc
        refused = {address: f"{code} {text}" for address, (code, text) in errors.items()}
        return SendReceipt(response=str(response), refused=refused)


def _by_code(code: int, text: str, host: str) -> ChannelError:
    if 500 <= code < 600:
        return DeliveryFailed(f"SMTP {code} {text}", host=host, code=code)
    return ChannelError(f"SMTP {code} {text}", host=host, code=code)


def _refused(recipients: Sequence[aiosmtplib.SMTPRecipientRefused], host: str) -> ChannelError:
    permanent = all(500 <= r.code < 600 for r in recipients)
    detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in recipients)
    if permanent:
        return DeliveryFailed(f"SMTP refused: {detail}", host=host)
    return ChannelError(f"SMTP refused for now: {detail}", host=host)
