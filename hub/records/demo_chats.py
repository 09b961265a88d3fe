"""The demo's conversations: email, WhatsApp and portal, stored through the message store.

``store_message`` hands out the per-conversation sequence numbers (invariant 1), so the
demo data looks exactly like data that came in through the channels.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Client, ClientContact, Conversation
from hub.db.models.messaging import ConversationStatus, DeliveryStatus
from hub.inbox.store import NewMessage, store_message
from hub.records import demo_data as data

if TYPE_CHECKING:
    from hub.records.demo import Seeded


@dataclasses.dataclass(frozen=True)
class Line:
    hours_ago: float
    text: str
    staff: str | None = None  # email of the staff member answering; None = from outside


@dataclasses.dataclass(frozen=True)
class Thread:
    client: int  # index into data.CLIENTS
    channel: str
    subject: str
    lines: tuple[Line, ...]
    portal_user: int | None = None  # index into data.PORTAL_USERS, for portal threads
    contact: int = 0  # index into the client's contacts, for email and WhatsApp
    status: str = ConversationStatus.OPEN.value


_JOOST = "joost.vanleeuwen@delinde.test"
_FATIMA = "fatima.elamrani@delinde.test"
_SANNE = "sanne.dewit@delinde.test"
_KEES = "kees.brouwer@delinde.test"

THREADS = (
    Thread(1, "email", "Afspraak huisarts volgende week", (
        Line(50, "Goedemiddag, mijn vader heeft dinsdag om 10:00 een afspraak bij de "
                 "huisarts. Kan iemand van het team hem daarbij helpen?"),
        Line(47, "Dag mevrouw Visser, dat regelen we. Kees komt dinsdag om 9:30.",
             staff=_FATIMA),
        Line(30, "Dank u wel, fijn!"),
    ), contact=1),
    Thread(0, "whatsapp", "", (
        Line(6, "Goedemorgen, komt de zuster vandaag iets later?"),
        Line(5.5, "Goedemorgen mevrouw De Jong, ja, rond half elf. Groet, Sanne",
             staff=_SANNE),
    )),
    Thread(0, "portal", "Medicijnen", (
        Line(26, "Mijn medicijnen zijn bijna op. Wie bestelt de nieuwe?"),
        Line(25, "Wij bestellen ze bij de apotheek, ze komen donderdag.", staff=_JOOST),
    ), portal_user=0),
    Thread(1, "portal", "Donderdag eerder?", (
        Line(3, "Kan mijn vader donderdag eerder geholpen worden? Hij moet om 9 uur weg."),
    ), portal_user=1, contact=1),
    Thread(4, "email", "Vraag over de rekening", (
        Line(20, "Beste mensen, ik heb een rekening gekregen die ik niet begrijp. "
                 "Kan iemand mij bellen?"),
    )),
    Thread(3, "whatsapp", "", (
        Line(72, "Is de rolstoel al besteld?"),
        Line(70, "Ja meneer Dekker, hij wordt vrijdag gebracht.", staff=_KEES),
        Line(69, "Top, bedankt"),
    ), status=ConversationStatus.RESOLVED.value),
)


async def seed_conversations(session: AsyncSession, seeded: Seeded, now: dt.datetime) -> None:
    for n, thread in enumerate(THREADS, start=1):
        client = seeded.clients[thread.client]
        contact = await _contact(session, client, thread.contact)
        conversation = Conversation(
            organisation_id=seeded.org.id, client_id=client.id, contact_id=contact.id,
            channel=thread.channel, subject=thread.subject, status=thread.status,
            assignee_team_id=client.team_id, thread_token=secrets.token_hex(16),
            external_party=_party(thread.channel, contact))
        session.add(conversation)
        await session.flush()
        for m, line in enumerate(thread.lines, start=1):
            message = _message(seeded, thread, contact, line, f"demo-{n}-{m}")
            await store_message(session, conversation, dataclasses.replace(
                message, created_at=now - dt.timedelta(hours=line.hours_ago)))
        # a resolved thread stays resolved: its last word was ours or a thank-you
        conversation.status = thread.status


async def _contact(session: AsyncSession, client: Client, index: int) -> ClientContact:
    contacts = list(await session.scalars(select(ClientContact).where(
        ClientContact.organisation_id == client.organisation_id,
        ClientContact.client_id == client.id).order_by(ClientContact.id)))
    return contacts[index]


def _party(channel: str, contact: ClientContact) -> str | None:
    return {"email": contact.email, "whatsapp": contact.whatsapp_id}.get(channel)


def _message(seeded: Seeded, thread: Thread, contact: ClientContact, line: Line,
             key: str) -> NewMessage:
    external_id = {"email": f"<{key}@{data.STAFF_DOMAIN}>",
                   "whatsapp": f"wamid.{key}"}.get(thread.channel, key)
    base = NewMessage(channel=thread.channel, direction="in", external_id=external_id,
                      body_text=line.text, full_text=line.text, subject=thread.subject)
    if line.staff is not None:
        staff = seeded.staff[line.staff]
        return dataclasses.replace(base, direction="out", sender_staff_id=staff.id,
                                   sender_name=staff.name, sender_address=staff.email,
                                   delivery_status=DeliveryStatus.DELIVERED.value)
    if thread.portal_user is not None:
        user = seeded.portal_users[thread.portal_user]
        return dataclasses.replace(base, sender_portal_user_id=user.id, sender_name=user.name,
                                   sender_address=user.email)
    address = contact.email if thread.channel == "email" else contact.whatsapp_id
    return dataclasses.replace(base, sender_contact_id=contact.id, sender_name=contact.name,
                               sender_address=address or "")
