"""Two organisations in one database: nothing of one is reachable with the other's token."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from hub.db.models import AuditRecord, Client
from hub.resources import Resources
from tests.api.conftest import TokenOrg, new_client, token_org


async def test_organisations_do_not_see_each_others_clients(
        client: httpx.AsyncClient, hub: Resources) -> None:
    linde, eik = await token_org(hub, "linde"), await token_org(hub, "eik")
    # the same number (and the same person) may exist in both organisations
    for org in (linde, eik):
        response = await client.post("/api/v1/clients", json=new_client("C1"),
                                     headers=org.headers)
        assert response.status_code == 201
    await client.post("/api/v1/clients", json=new_client("EIK-2"), headers=eik.headers)

    listed = (await client.get("/api/v1/clients", headers=linde.headers)).json()
    assert [c["client_number"] for c in listed["clients"]] == ["C1"]
    assert (await client.get("/api/v1/clients/EIK-2", headers=linde.headers)).status_code == 404
    for method, path in (("PATCH", "/api/v1/clients/EIK-2"),
                         ("GET", "/api/v1/clients/EIK-2/contacts"),
                         ("POST", "/api/v1/clients/EIK-2/contacts")):
        response = await client.request(method, path, headers=linde.headers,
                                        json={"notes": "x"} if method == "PATCH" else
                                        {"email": "x@example.nl"} if method == "POST" else None)
        assert response.status_code == 404, (method, path)

    changed = await client.patch("/api/v1/clients/C1", json={"notes": "van De Linde"},
                                 headers=linde.headers)
    assert changed.status_code == 200
    eik_c1 = (await client.get("/api/v1/clients/C1", headers=eik.headers)).json()
    assert eik_c1["notes"] == ""
    eik_contact = eik_c1["contacts"][0]["id"]
    stolen = await client.patch(f"/api/v1/clients/C1/contacts/{eik_contact}",
                                json={"name": "x"}, headers=linde.headers)
    assert stolen.status_code == 404

    async with hub.sessions() as session:
        clients = {c.id: c.organisation_id for c in await session.scalars(select(Client))}
        audit = list(await session.scalars(select(AuditRecord)))
    # every audit line sits in the chain of the organisation whose client it names
    assert all(clients[a.client_id] == a.organisation_id for a in audit if a.client_id)
    assert {a.organisation_id for a in audit} == {linde.org.id, eik.org.id}


async def test_a_token_of_one_organisation_cannot_page_into_another(
        client: httpx.AsyncClient, hub: Resources, ecd: TokenOrg) -> None:
    eik = await token_org(hub, "eik")
    for n in range(3):
        await client.post("/api/v1/clients", json=new_client(f"E{n}"), headers=eik.headers)
    await client.post("/api/v1/clients", json=new_client("L1"), headers=ecd.headers)
    seen, cursor = [], None
    for _ in range(10):
        params = {"limit": "1"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/clients", params=params, headers=ecd.headers)).json()
        seen += [c["client_number"] for c in page["clients"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["L1"]
