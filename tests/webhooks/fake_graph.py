"""A local stand-in for Meta's Graph API, strict about what Meta documents.

It runs a real uvicorn server on 127.0.0.1 in a thread of its own (one per test session;
``reset()`` between tests) and checks each request the way the Cloud API / Send API
would: the version in the path, ``Authorization: Bearer <the account's token>``, and the
exact JSON shape of a WhatsApp text or template message and of a Messenger Send API
call. It answers as Meta does, including Meta's error object
``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``, and can be
told to fail the next calls (``fail_next``) to test retries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import json
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

VERSION = "v21.0"
WA_TEXT_KEYS = {"messaging_product", "recipient_type", "to", "type", "text",
                "biz_opaque_callback_data"}
WA_TEMPLATE_KEYS = {"messaging_product", "recipient_type", "to", "type", "template",
                    "biz_opaque_callback_data"}
MESSENGER_TAGS = {"ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE",
                  "HUMAN_AGENT"}


@dataclasses.dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def meta_error(status: int, code: int, message: str, *, subcode: int | None = None,
               kind: str = "OAuthException") -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code,
                             "fbtrace_id": "AbCdEfGhIjK"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return JSONResponse({"error": error}, status_code=status)


class FakeGraph:
    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.url}/{VERSION}"
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.whatsapp: dict[str, str] = {}  # phone_number_id -> token
        self.pages: dict[str, str] = {}  # page id -> token
        self.media: dict[str, tuple[bytes, str]] = {}  # media id -> (bytes, mime)
        self.cdn: dict[str, bytes] = {}
        self.seen: list[Seen] = []
        self._failures: list[Response] = []
        self.server: uvicorn.Server | None = None

    # --- control from tests --------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.whatsapp.clear()
            self.pages.clear()
            self.media.clear()
            self.cdn.clear()
            self.seen.clear()
            self._failures.clear()

    def fail_next(self, *responses: Response) -> None:
        """The next calls (sends, media lookups, downloads) get these answers."""
        with self._lock:
            self._failures.extend(responses)

    def requests(self, path_part: str = "") -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if path_part in s.path]

    def sends(self) -> list[Seen]:
        return [s for s in self.requests("/messages") if s.method == "POST"]

    # --- server --------------------------------------------------------------------

    def start(self) -> None:
        app = Starlette(routes=[
            Route(f"/{VERSION}/{{node}}/messages", self._messages, methods=["POST"]),
            Route(f"/{VERSION}/{{node}}", self._node, methods=["GET"]),
            Route("/download/{media_id}", self._download, methods=["GET"]),
            Route("/cdn/{name}", self._cdn, methods=["GET"]),
        ])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off")
        server = self.server = uvicorn.Server(config)
        threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True).start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Graph API did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True

    # --- endpoints -----------------------------------------------------------------

    async def _record(self, request: Request) -> Any:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        with self._lock:
            self.seen.append(Seen(request.method, request.url.path, dict(request.headers),
                                  body))
        return body

    def _scripted(self) -> Response | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _token_ok(self, request: Request, expected: str | None) -> bool:
        return expected is not None and request.headers.get("authorization") == \
            f"Bearer {expected}"

    async def _messages(self, request: Request) -> Response:
        body = await self._record(request)
        node = request.path_params["node"]
        scripted = self._scripted()
        if scripted is not None:
            return scripted
        if node in self.whatsapp:
            if not self._token_ok(request, self.whatsapp[node]):
                return meta_error(401, 190, "Invalid OAuth access token.")
            return _whatsapp_send(body, next(self._ids))
        page = node if node in self.pages else self._page_of(request) if node == "me" else None
        if page is None:
            return meta_error(400, 100, "Unsupported post request. Object with ID "
                              f"'{node}' does not exist", subcode=33, kind="GraphMethodException")
        if not self._token_ok(request, self.pages[page]):
            return meta_error(401, 190, "Invalid OAuth access token.")
        return _messenger_send(body, next(self._ids))

    def _page_of(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        return next((p for p, t in self.pages.items() if header == f"Bearer {t}"), None)

    async def _node(self, request: Request) -> Response:
        """``GET /{media-id}``: where to download a WhatsApp media file."""
        await self._record(request)
        scripted = self._scripted()
        if scripted is not None:
            return scripted
        if not any(self._token_ok(request, t) for t in self.whatsapp.values()):
            return meta_error(401, 190, "Invalid OAuth access token.")
        media_id = request.path_params["node"]
        if media_id not in self.media:
            return meta_error(400, 100, "Unsupported get request. Object with ID "
                              f"'{media_id}' does not exist", subcode=33,
                              kind="GraphMethodException")
        data, mime = self.media[media_id]
        return JSONResponse({
            "messaging_product": "whatsapp", "url": f"{self.url}/download/{media_id}",
            "mime_type": mime, "sha256": hashlib.sha256(data).hexdigest(),
            "file_size": str(len(data)), "id": media_id})

    async def _download(self, request: Request) -> Response:
        await self._record(request)
        scripted = self._scripted()
        if scripted is not None:
            return scripted
        if not any(self._token_ok(request, t) for t in self.whatsapp.values()):
            return Response(status_code=401)
        data, mime = self.media[request.path_params["media_id"]]
        return Response(data, media_type=mime)

    async def _cdn(self, request: Request) -> Response:
        await self._record(request)
        if "authorization" in request.headers:
            # a CDN link must never get our page token
            return Response("token sent to a CDN", status_code=400)
        data = self.cdn.get(request.path_params["name"])
        return Response(status_code=404) if data is None else Response(
            data, media_type="image/jpeg")


def _whatsapp_send(body: Any, n: int) -> Response:
    problem = _whatsapp_problem(body)
    if problem:
        return meta_error(400, 100, f"(#100) {problem}")
    to = body["to"]
    return JSONResponse({"messaging_product": "whatsapp",
                         "contacts": [{"input": to, "wa_id": to}],
                         "messages": [{"id": f"wamid.HBgLMzE2MTIzNDU2NzgVAgARGBI{n:06d}"}]})


def _whatsapp_problem(body: Any) -> str:
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        return "messaging_product must be whatsapp"
    if body.get("recipient_type") != "individual" or not str(body.get("to", "")).isdigit():
        return "recipient_type/to invalid"
    if body.get("type") == "text":
        text = body.get("text")
        if set(body) - WA_TEXT_KEYS or not isinstance(text, dict) or set(text) != {
                "preview_url", "body"} or text["preview_url"] is not False:
            return "Invalid parameter (text)"
        return "" if isinstance(text["body"], str) and 0 < len(text["body"]) <= 4096 \
            else "text.body invalid"
    if body.get("type") == "template":
        return "Invalid parameter (template)" if set(body) - WA_TEMPLATE_KEYS \
            else _template_problem(body.get("template"))
    return "Invalid parameter (type)"


def _template_problem(template: Any) -> str:
    if not isinstance(template, dict) or not template.get("name"):
        return "template.name required"
    if not isinstance(template.get("language"), dict) or not template["language"].get("code"):
        return "template.language.code required"
    for component in template.get("components", []):
        if component.get("type") != "body":
            return "only a body component is expected"
        for parameter in component.get("parameters", []):
            if parameter.get("type") != "text" or not parameter.get("text"):
                return "body parameters must be text"
    return ""


def _messenger_send(body: Any, n: int) -> Response:
    if not isinstance(body, dict) or not isinstance(body.get("recipient"), dict) \
            or not body["recipient"].get("id"):
        return meta_error(400, 100, "(#100) The parameter recipient is required")
    kind = body.get("messaging_type")
    if kind not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
        return meta_error(400, 100, "(#100) messaging_type is invalid")
    if kind == "MESSAGE_TAG" and body.get("tag") not in MESSENGER_TAGS:
        return meta_error(400, 100, "(#100) Tag is invalid")
    text = (body.get("message") or {}).get("text")
    if not isinstance(text, str) or not 0 < len(text) <= 2000:
        return meta_error(400, 100, "(#100) Param message[text] must be a UTF-8 string")
    return JSONResponse({"recipient_id": body["recipient"]["id"],
                         "message_id": f"m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_{n:06d}"})
