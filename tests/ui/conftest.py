"""A small care organisation for the inbox page tests: staff, a client, a daughter in the
portal, a mailbox, and an email conversation whose every field is hostile."""

from __future__ import annotations

import dataclasses

import pytest

from hub.db.engine import transaction
from hub.db.models import (
    Client,
    Conversation,
    Mailbox,
    Organisation,
    PortalUser,
    Staff,
    Team,
)
from hub.inbox.attachments import AttachmentStore, FileData, attach_files
from hub.inbox.store import NewMessage, store_message
from hub.resources import Resources
from tests.factories import (
    make_client,
    make_conversation,
    make_org,
    make_portal_user,
    make_staff,
    make_team,
)
from tests.helpers.auth import hashed

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@dataclasses.dataclass
class World:
    org: Organisation
    team: Team
    anna: Staff
    bram: Staff
    olga: Staff  # no care relationship with the client
    admin: Staff
    client: Client
    daughter: PortalUser
    email: Conversation
    portal: Conversation


@pytest.fixture
async def world(hub: Resources) -> World:
    async with transaction(hub.sessions) as db:
        org = await make_org(db, slug=hub.settings.default_org_slug)
        team = await make_team(db, org, name="Team Oost")
        password = hashed()
        anna = await make_staff(db, org, team=team, name="Anna de Boer", email="anna@zorg.test",
                                password_hash=password)
        bram = await make_staff(db, org, team=team, name="Bram Visser", password_hash=password)
        olga = await make_staff(db, org, name="Olga Smit", password_hash=password)
        admin = await make_staff(db, org, name="Ada Beheer", role="admin",
                                 password_hash=password)
        client = await make_client(db, org, team=team, given_name="Henk",
                                   family_name="Jansen", client_number="C-1001")
        daughter = await make_portal_user(db, org, clients=(client,), relation="family",
                                          name="Ingrid Jansen", email="ingrid@familie.test",
                                          password_hash=password)
        mailbox = Mailbox(organisation_id=org.id, name="Zorg", address="zorg@example.nl",
                          imap_host="127.0.0.1", imap_user="zorg", imap_password="x")
        db.add(mailbox)
        await db.flush()
        email = await make_conversation(db, org, client=client, channel="email",
                                        subject=f"Vraag {HOSTILE}", mailbox_id=mailbox.id,
                                        external_party="ingrid@familie.test")
        first, _ = await store_message(db, email, NewMessage(
            channel="email", direction="in", external_id="m1@familie.test",
            subject=f"Vraag {HOSTILE}", body_text=f"Kan de zuster later komen? {HOSTILE}",
            body_html="<p>Kan de zuster <b>later</b> komen?</p>",
            sender_name=f"Ingrid {HOSTILE}", sender_address="ingrid@familie.test"))
        # as an email may name its attachment: not cleaned at ingest, escaped on the page
        attach_files(db, AttachmentStore(hub.settings.attachments_dir), org.id, first.id,
                     [FileData(f'"{HOSTILE}.pdf', "application/pdf", b"%PDF-1.4 x")])
        portal = await make_conversation(db, org, client=client, channel="portal",
                                         subject="Medicatie")
        await store_message(db, portal, NewMessage(
            channel="portal", direction="in", external_id=f"portal:{daughter.id}:p1",
            body_text="Zijn de nieuwe pillen al besteld?", sender_name="Ingrid Jansen",
            sender_portal_user_id=daughter.id))
    return World(org, team, anna, bram, olga, admin, client, daughter, email, portal)
