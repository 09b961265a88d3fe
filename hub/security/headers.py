"""Security headers on every HTTP response, as a pure ASGI middleware.

Pure ASGI (not ``BaseHTTPMiddleware``) so websockets and streamed responses pass through
untouched. The CSP allows scripts and styles only from this origin (no inline script),
images also as data: URLs (the QR code of the second-factor setup), and forbids framing.
Pages with client data must not linger in shared caches or the back-button cache of a
shared computer, so HTML without its own Cache-Control gets ``no-store``.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

_ALWAYS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add(MutableHeaders(scope=message), str(scope.get("path", "")))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _add(self, headers: MutableHeaders, path: str) -> None:
        for name, value in _ALWAYS.items():
            headers.setdefault(name, value)
        if self.https:
            headers.setdefault("strict-transport-security", HSTS)
        if "cache-control" not in headers and not path.startswith("/static/"):
            headers["cache-control"] = "no-store"
