"""Send one mail through the configured SMTP server (``settings.smtp_*``).

Bodies of mail sent from here never carry client details (invariant 6): invitations and
resets hold a link, nothing else. Without ``smtp_host`` nothing is sent; the fact is
logged (not the link: whoever reads the log must not be able to use it).
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import make_msgid

import aiosmtplib

from hub.errors import ChannelError
from hub.settings import Settings

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 20


def build_message(settings: Settings, to: str, subject: str, text: str,
                  html: str | None = None) -> EmailMessage:
    message = EmailMessage(policy=default_policy)
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def send_mail(settings: Settings, to: str, subject: str, text: str,
                    html: str | None = None) -> bool:
    """True when the SMTP server took the mail; False when sending is not configured."""
    if not settings.smtp_host:
        log.warning("mail to %s not sent: HUB_SMTP_HOST is empty (subject %r)", to, subject)
        return False
    message = build_message(settings, to, subject, text, html)
    try:
        await aiosmtplib.send(
            message, hostname=settings.smtp_host, port=settings.smtp_port,
            username=settings.smtp_user or None, password=settings.smtp_password or None,
            use_tls=settings.smtp_security == "tls",
            start_tls=settings.smtp_security == "starttls", timeout=TIMEOUT_SECONDS,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise ChannelError(f"SMTP: {exc}", host=settings.smtp_host) from exc
    return True
