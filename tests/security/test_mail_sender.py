from __future__ import annotations

import logging

import pytest

from hub.errors import ChannelError
from hub.mail.sender import send_mail
from hub.settings import Settings
from tests.helpers.smtp import SmtpCapture, body_of


async def test_mail_goes_out_through_the_configured_smtp_server(
    settings: Settings, smtp: SmtpCapture,
) -> None:
    sent = await send_mail(settings.with_changes(**smtp.settings()), "ans@familie.test",
                           "Uitnodiging voor Zorghub", "Kies een wachtwoord: https://x.test/")
    assert sent is True
    [mail] = await smtp.wait_for(1)
    assert mail["To"] == "ans@familie.test" and mail["From"] == settings.mail_from
    assert "Kies een wachtwoord" in body_of(mail)


async def test_without_smtp_host_the_mail_is_logged_as_not_sent(
    settings: Settings, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="hub.mail.sender"):
        sent = await send_mail(settings, "ans@familie.test", "Onderwerp", "https://x.test/geheim")
    assert sent is False
    assert "not sent" in caplog.text and "geheim" not in caplog.text


async def test_an_unreachable_smtp_server_is_a_channel_error(settings: Settings) -> None:
    with SmtpCapture() as smtp:
        port = smtp.port
    with pytest.raises(ChannelError):
        await send_mail(settings.with_changes(smtp_host="127.0.0.1", smtp_port=port,
                                              smtp_security="none"), "a@b.test", "x", "y")
