"""Security headers on every response, page language, and the templates' translations."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from hub.app import create_app
from hub.db.models import Staff
from hub.resources import Resources
from hub.settings import Settings
from hub.web import i18n
from tests.helpers.asgi import asgi_client
from tests.helpers.auth import signed_in

TEMPLATES = Path(__file__).resolve().parents[2] / "hub" / "templates"


@pytest.mark.parametrize("path", ["/login", "/app/", "/portal/login", "/no-such-page",
                                  "/static/app.css", "/healthz"])
async def test_every_response_carries_the_security_headers(
    client: httpx.AsyncClient, path: str,
) -> None:
    response = await client.get(path)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in response.headers  # http in tests


async def test_hsts_when_served_over_https(settings: Settings, hub: Resources) -> None:
    app = create_app(settings.with_changes(base_url="https://zorg.example.nl"))
    async with asgi_client(app, hub) as http:
        response = await http.get("/login")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_pages_with_client_data_are_not_cached(
    client: httpx.AsyncClient, hub: Resources, staff: Staff,
) -> None:
    await signed_in(client, hub, staff)
    assert (await client.get("/app/")).headers["cache-control"] == "no-store"


async def test_no_inline_script_in_any_page(client: httpx.AsyncClient) -> None:
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert not re.search(r"\son[a-z]+=", text), template  # no onclick= handlers


async def test_english_is_the_second_language(
    client: httpx.AsyncClient, app: Starlette, hub: Resources,
) -> None:
    dutch = await client.get("/login")
    assert 'lang="nl"' in dutch.text and "Wachtwoord" in dutch.text
    english = await client.get("/login", headers={"accept-language": "en-GB,en;q=0.9"})
    assert 'lang="en"' in english.text and "Password" in english.text
    chosen = await client.post("/language", data={
        "language": "en", "next": "/login",
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"',  # type: ignore[union-attr]
                                dutch.text).group(1)})
    assert chosen.status_code == 303
    assert "Password" in (await client.get("/login")).text


def test_every_text_in_the_security_and_portal_templates_has_an_english_translation() -> None:
    missing = []
    for folder in ("security", "portal"):
        for template in (TEMPLATES / folder).glob("*.html"):
            for message in re.findall(r"""_\(\s*"([^"]+)"|_\(\s*'([^']+)'""",
                                      template.read_text()):
                text = message[0] or message[1]
                if not text.endswith(":") and not i18n.has_translation("en", text):
                    missing.append(f"{template.name}: {text}")
    assert not missing, "\n".join(missing)


def test_every_code_label_has_dutch_and_english() -> None:
    from hub.db.models.clients import Relation
    from hub.db.models.org import Role
    from hub.security.audit import Event

    codes = [f"event:{e.value}" for e in Event] + [f"relation:{r.value}" for r in Relation]
    codes += [f"role:{r.value}" for r in Role] + ["role:portal", "role:anonymous"]
    for code in codes:
        assert i18n.has_translation("nl", code) and i18n.has_translation("en", code), code
