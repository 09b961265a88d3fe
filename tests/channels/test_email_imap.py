"""The IMAP adapter against a real Dovecot: listing, peeking, flags, IDLE, TLS, failures."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import tempfile
from pathlib import Path

import pytest

from hub.channels.email import ImapConfig, ImapMailbox
from hub.channels.email_responses import literals_by_uid, uid_set
from hub.errors import ChannelError
from tests.channels import mailgen
from tests.channels.servers import CutProxy, Dovecot, client_tls_context


def config(dovecot: Dovecot, user: str, **changes: object) -> ImapConfig:
    values: dict[str, object] = {"host": "127.0.0.1", "port": dovecot.port, "security": "none",
                                 "user": user, "password": "geheim", "timeout": 5.0}
    values.update(changes)
    return ImapConfig(**values)  # type: ignore[arg-type]


def flags_of(dovecot: Dovecot, user: str) -> list[bytes]:
    connection = dovecot.imap(user)
    try:
        connection.select("INBOX")
        status, data = connection.uid("FETCH", "1:*", "(FLAGS)")
        assert status == "OK"
        return [bytes(line) for line in data if line]
    finally:
        connection.logout()


def test_uid_set_compresses_ranges() -> None:
    assert uid_set([7, 1, 2, 3, 9, 10]) == "1:3,7,9:10"
    assert uid_set([5]) == "5"


def test_literals_pair_with_uid_before_or_after_the_literal() -> None:
    lines = [b"1 FETCH (UID 4 BODY[] {3}", bytearray(b"abc"), b")",
             b"2 FETCH (BODY[] {2}", bytearray(b"de"), b" UID 9)",
             b"3 FETCH (FLAGS (\\Seen) UID 12)", b"Fetch completed"]
    assert literals_by_uid(lines) == {4: b"abc", 9: b"de"}


async def test_lists_and_peeks_without_marking_read(dovecot: Dovecot, mail_user: str) -> None:
    raws = [mailgen.plain(subject=f"Vraag {n}", message_id=f"imap{n}@familie.test")
            for n in range(3)]
    uids = dovecot.append(mail_user, raws)
    async with ImapMailbox(config(dovecot, mail_user)) as imap:
        state = await imap.open()
        assert state.exists == 3 and state.uidvalidity > 0
        listed = await imap.list_new(0)
        assert [uid for uid, _ in listed] == uids
        assert all(size > 100 for _, size in listed)
        assert [uid for uid, _ in await imap.list_new(uids[0])] == uids[1:]
        assert await imap.list_new(uids[-1]) == []
        fetched = await imap.fetch(uids)
    assert [fetched[uid].replace(b"\r\n", b"\n") for uid in uids] == \
        [raw.replace(b"\r\n", b"\n") for raw in raws]
    assert not any(b"\\Seen" in line for line in flags_of(dovecot, mail_user))


async def test_mark_seen_and_delete_only_the_given_uids(dovecot: Dovecot,
                                                         mail_user: str) -> None:
    uids = dovecot.append(mail_user, [mailgen.plain(subject=str(n)) for n in range(3)])
    async with ImapMailbox(config(dovecot, mail_user)) as imap:
        await imap.open()
        await imap.mark_seen(uids[:1])
        await imap.delete(uids[1:2])
        remaining = [uid for uid, _ in await imap.list_new(0)]
    assert remaining == [uids[0], uids[2]]
    flags = flags_of(dovecot, mail_user)
    assert sum(b"\\Seen" in line for line in flags) == 1


async def test_fetch_prefix_gets_only_the_start(dovecot: Dovecot, mail_user: str) -> None:
    [uid] = dovecot.append(mail_user, [mailgen.with_attachment("Jan Visser", "Groot", 200_000)])
    async with ImapMailbox(config(dovecot, mail_user)) as imap:
        await imap.open()
        prefix = await imap.fetch_prefix(uid, 4096)
    assert len(prefix) == 4096
    assert b"Subject: Groot" in prefix


async def test_idle_wakes_up_on_new_mail_and_times_out_without(dovecot: Dovecot,
                                                               mail_user: str) -> None:
    async with ImapMailbox(config(dovecot, mail_user)) as imap:
        await imap.open()
        assert imap.supports_idle
        assert await asyncio.wait_for(imap.wait_for_change(0.5), 5) is False
        waiting = asyncio.ensure_future(imap.wait_for_change(30))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(dovecot.append, mail_user, [mailgen.plain(subject="Nieuw")])
        assert await asyncio.wait_for(waiting, 10) is True
        # the connection is usable after IDLE
        assert len(await imap.list_new(0)) == 1


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_and_starttls_with_certificate_check(dovecot: Dovecot, mail_user: str,
                                                       security: str) -> None:
    dovecot.append(mail_user, [mailgen.plain()])
    port = dovecot.tls_port if security == "tls" else dovecot.port
    context = client_tls_context(dovecot.cert)
    async with ImapMailbox(config(dovecot, mail_user, security=security, port=port,
                                  ssl_context=context)) as imap:
        await imap.open()
        transport = imap.imap.protocol.transport
        assert transport.get_extra_info("ssl_object") is not None
        assert len(await imap.fetch([1])) == 1
    # without the certificate in the trust store the handshake must fail
    with pytest.raises(ChannelError):
        async with ImapMailbox(config(dovecot, mail_user, security=security, port=port,
                                      ssl_context=ssl.create_default_context())) as imap:
            await imap.open()


async def test_wrong_password_is_a_channel_error() -> None:
    # a Dovecot of its own: failed logins slow down later logins from the same address
    folder = Path(tempfile.mkdtemp(prefix="zorghub-dovecot-"))
    server = Dovecot(folder)
    server.start()
    try:
        with pytest.raises(ChannelError, match="login"):
            async with ImapMailbox(config(server, "zorgteam", password="fout")) as imap:
                await imap.open()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def test_dropped_connection_fails_fast_instead_of_hanging(dovecot: Dovecot,
                                                                mail_user: str) -> None:
    dovecot.append(mail_user, [mailgen.with_attachment("Jan Visser", "Groot", 300_000)])
    proxy = CutProxy(dovecot.port)
    await proxy.start()
    try:
        async with ImapMailbox(config(dovecot, mail_user, port=proxy.port,
                                      timeout=60.0)) as imap:
            await imap.open()
            listed = await imap.list_new(0)
            assert len(listed) == 1
        proxy.cut_after = 5_000  # inside the greeting + login + select + first literal
        started = asyncio.get_running_loop().time()
        with pytest.raises(ChannelError):
            async with ImapMailbox(config(dovecot, mail_user, port=proxy.port,
                                          timeout=60.0)) as imap:
                await imap.open()
                await imap.fetch([1])
        assert asyncio.get_running_loop().time() - started < 10
        assert proxy.cuts == 1
    finally:
        await proxy.stop()
