"""The JSON API under ``/api/v1``: token-authenticated, errors as JSON with a stable code.

An ECD keeps client records in sync here (``docs/api.md``). The handlers are thin: the
rules live in ``hub.records`` (shared with the CSV importer), who may call what in
``hub.security.policy`` (every route is a ``SecureRoute`` for API tokens only).
Everything under ``/api/v1``, including an unknown path or a wrong method, answers
``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Router

from hub.api import clients, contacts
from hub.api.common import JsonErrors, api_route


def routes() -> list[BaseRoute]:
    one = "/clients/{number}"
    contact = "/clients/{number}/contacts/{contact_id:int}"
    inner = Router(routes=[
        api_route("/clients", clients.list_clients, "GET"),
        api_route("/clients", clients.create_client, "POST"),
        api_route(one, clients.get_client, "GET"),
        api_route(one, clients.update_client, "PATCH"),
        api_route(f"{one}/contacts", contacts.list_contacts, "GET"),
        api_route(f"{one}/contacts", contacts.add_contact, "POST"),
        api_route(contact, contacts.update_contact, "PATCH"),
        api_route(contact, contacts.delete_contact, "DELETE"),
    ], redirect_slashes=False)
    return [Mount("", app=JsonErrors(inner))]
