"""A small client for Meta's Graph API: JSON calls, media lookups and capped downloads.

It receives its ``httpx.AsyncClient``, access token and base URL (``settings.graph_api_url``,
version included, e.g. ``https://graph.facebook.com/v21.0``) in its constructor, so tests
point it at a local server and the worker shares one connection pool.

Failures come out as two kinds, because the send jobs treat them differently:

- ``ChannelError``: worth retrying later (network error, timeout, HTTP 5xx or 429, and
  Meta's throttling or "temporarily unavailable" codes even when sent with HTTP 400);
- ``DeliveryFailed``: Meta refused the request for good (any other 4xx); retrying sends
  the same refusal again.

Both carry Meta's ``error`` object as fields: ``status``, ``meta_code``, ``subcode``,
``meta_type``, ``fbtrace_id`` and ``meta_message`` (see ``describe``).
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from hub.errors import ChannelError, DeliveryFailed, HubError, PayloadTooLarge

# Meta error codes that mean "later", whatever the HTTP status: unknown/temporary (1, 2),
# rate limits (4, 17, 32, 341, 613, 80007, 130429, 131048, 131056) and service trouble
# (131000, 131016, 133004)
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, 80007, 130429, 131000, 131016,
                             131048, 131056, 133004})


@dataclasses.dataclass(frozen=True)
class MediaInfo:
    """What ``GET /{media-id}`` says about a file someone sent over WhatsApp."""

    media_id: str
    url: str
    mime_type: str
    size: int | None


class GraphClient:
    def __init__(self, http: httpx.AsyncClient, access_token: str, *, base_url: str,
                 timeout: float = 20.0) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._auth = {"Authorization": f"Bearer {access_token}"}

    def url(self, *parts: str) -> str:
        return "/".join([self.base_url, *(quote(p, safe="") for p in parts)])

    async def post(self, *path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", self.url(*path), json=body)

    async def get(self, *path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return await self._call("GET", self.url(*path), params=params)

    async def media(self, media_id: str) -> MediaInfo:
        """``GET /{media-id}``: a short-lived download URL and the file's type and size."""
        found = await self.get(media_id)
        url = found.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise DeliveryFailed("Graph API gaf geen download-adres", media_id=media_id)
        size = str(found.get("file_size") or "")
        return MediaInfo(media_id, url, str(found.get("mime_type") or ""),
                         int(size) if size.isdigit() else None)

    async def download(self, url: str, *, limit: int, authorised: bool = True) -> bytes:
        """The bytes at ``url`` (WhatsApp media needs the bearer token; Messenger's CDN
        links do not), refused past ``limit`` bytes without reading the rest."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise DeliveryFailed("ongeldig download-adres", url=url[:200])
        headers = self._auth if authorised else {}
        try:
            async with self.http.stream("GET", url, headers=headers,
                                        timeout=self.timeout) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise _error(response)
                return await _read_capped(response, limit)
        except httpx.HTTPError as exc:
            raise ChannelError(f"download mislukt: {exc!r}") from exc

    async def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self.http.request(method, url, headers=self._auth,
                                               timeout=self.timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise ChannelError(f"Graph API onbereikbaar: {exc!r}", url=_path(url)) from exc
        if response.status_code >= 400:
            raise _error(response)
        try:
            found = response.json()
        except ValueError as exc:
            raise ChannelError("Graph API gaf geen JSON", status=response.status_code) from exc
        if not isinstance(found, dict):
            raise ChannelError("Graph API gaf geen JSON-object", status=response.status_code)
        return found


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge("bestand te groot", size=int(declared), limit=limit)
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("bestand te groot", size=size, limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _error(response: httpx.Response) -> ChannelError:
    """Meta's ``{"error": {...}}`` as ChannelError (retry) or DeliveryFailed (give up)."""
    error = _error_object(response)
    code = error.get("code")
    fields = {
        "status": response.status_code, "meta_code": code,
        "subcode": error.get("error_subcode"), "meta_type": error.get("type"),
        "fbtrace_id": error.get("fbtrace_id"),
        "meta_message": str(error.get("message") or response.reason_phrase)[:500],
    }
    message = f"Graph API {response.status_code}: {fields['meta_message']}"
    if response.status_code >= 500 or response.status_code == 429 \
            or code in TRANSIENT_CODES:
        return ChannelError(message, **fields)
    return DeliveryFailed(message, **fields)


def _error_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _path(url: str) -> str:
    return urlsplit(url).path


def describe(exc: HubError) -> str:
    """A line for the message's error field: Meta's own words and code, when it sent them."""
    text = exc.fields.get("meta_message") or exc.message
    code = exc.fields.get("meta_code")
    subcode = exc.fields.get("subcode")
    if code is None:
        return str(text)[:2000]
    suffix = f"{code}/{subcode}" if subcode else f"{code}"
    return f"{text} (Meta-code {suffix})"[:2000]
