from __future__ import annotations

import httpx

from tests.conftest import LiveServer


async def test_healthz_reports_database_and_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True, "redis": True}


async def test_healthz_on_a_real_uvicorn_server(live_server: LiveServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{live_server.url}/healthz")
    assert response.status_code == 200
