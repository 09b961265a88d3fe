from __future__ import annotations

import httpx
from sqlalchemy import select

from hub.db.models import AuditRecord
from hub.resources import Resources
from tests.api.conftest import TokenOrg, new_client


async def test_contacts_can_be_listed_added_changed_and_removed(
        client: httpx.AsyncClient, hub: Resources, ecd: TokenOrg) -> None:
    await client.post("/api/v1/clients", json=new_client(), headers=ecd.headers)
    base = "/api/v1/clients/C1001/contacts"
    added = await client.post(base, headers=ecd.headers, json={
        "name": "Mr. A. Aydin", "relation": "curator", "phone": "+31 20 123 4567",
        "whatsapp_id": "06-23456789"})
    assert added.status_code == 201, added.text
    contact = added.json()
    assert (contact["relation"], contact["phone"], contact["whatsapp_id"]) == (
        "legal_representative", "+31201234567", "31623456789")

    changed = await client.patch(f"{base}/{contact['id']}", headers=ecd.headers,
                                 json={"email": "Aydin@Kantoor.TEST", "phone": None})
    assert changed.status_code == 200
    assert (changed.json()["email"], changed.json()["phone"]) == ("Aydin@kantoor.test", None)

    emptied = await client.patch(f"{base}/{contact['id']}", headers=ecd.headers,
                                 json={"email": None, "whatsapp_id": None})
    assert emptied.status_code == 422
    assert emptied.json()["error"]["details"]["fields"] == {
        "email": "e-mail, telefoon of WhatsApp is nodig"}

    listed = (await client.get(base, headers=ecd.headers)).json()["contacts"]
    assert [c["name"] for c in listed] == ["Johanna Jong C1001", "Ingrid de Jong",
                                           "Mr. A. Aydin"]
    assert (await client.delete(f"{base}/{contact['id']}", headers=ecd.headers)).status_code == 204
    gone = await client.delete(f"{base}/{contact['id']}", headers=ecd.headers)
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "not_found")
    async with hub.sessions() as session:
        events = [(a.event, a.object_ref) for a in await session.scalars(
            select(AuditRecord).order_by(AuditRecord.id))]
    ref = f"contact:{contact['id']}"
    assert events[1:] == [("create", ref), ("change", ref), ("read", events[0][1]),
                          ("delete", ref)]


async def test_a_contact_of_another_client_is_not_reachable(
        client: httpx.AsyncClient, ecd: TokenOrg) -> None:
    one = (await client.post("/api/v1/clients", json=new_client("C1"), headers=ecd.headers)).json()
    await client.post("/api/v1/clients", json=new_client("C2"), headers=ecd.headers)
    contact_id = one["contacts"][0]["id"]
    response = await client.patch(f"/api/v1/clients/C2/contacts/{contact_id}",
                                  json={"name": "x"}, headers=ecd.headers)
    assert response.status_code == 404
