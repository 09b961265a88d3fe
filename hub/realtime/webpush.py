"""Web Push (RFC 8030) with VAPID (RFC 8292) and message encryption (RFC 8291).

The browser gives a subscription: an endpoint URL of its push service and two keys
(``p256dh``, ``auth``). A push is one POST to the endpoint: the payload encrypted with
``aes128gcm`` for those keys, and a VAPID ``Authorization`` header signed with our key,
whose public half the browser got when it subscribed (``hello`` frame). Push services
answer 201; 404 and 410 mean the subscription is gone and is deleted.

The VAPID key comes from ``HUB_VAPID_PRIVATE_KEY``; without it, one is generated once
and kept in the data folder (all processes on one machine share it).
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any
from urllib.parse import urlsplit

import http_ece
import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from hub.errors import InvalidInput
from hub.settings import Settings

TTL_SECONDS = 24 * 3600
GONE = frozenset({404, 410})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key_from_b64(text: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(unb64url(text.strip()), "big"), ec.SECP256R1())


def private_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    if settings.vapid_private_key:
        return _key_from_b64(settings.vapid_private_key)
    path = settings.data_dir / "vapid_private_key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        raw = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
        try:  # O_EXCL: two processes starting at once keep the first key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(b64url(raw.to_bytes(32, "big")))
        except FileExistsError:
            pass
    return _key_from_b64(path.read_text())


def public_key(settings: Settings) -> str:
    """The application server key for ``pushManager.subscribe`` (base64url, raw point)."""
    return b64url(_raw_public(private_key(settings)))


def _raw_public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.X962,
                                         serialization.PublicFormat.UncompressedPoint)


def vapid_header(endpoint: str, key: ec.EllipticCurvePrivateKey, subject: str) -> str:
    """``Authorization: vapid t=<JWT>, k=<public key>`` for the endpoint's origin."""
    parts = urlsplit(endpoint)
    claims = {"aud": f"{parts.scheme}://{parts.netloc}", "exp": int(time.time()) + 12 * 3600,
              "sub": subject}
    signing_input = ".".join(b64url(json.dumps(p, separators=(",", ":")).encode())
                             for p in ({"typ": "JWT", "alg": "ES256"}, claims))
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    token = f"{signing_input}.{b64url(signature)}"
    return f"vapid t={token}, k={b64url(_raw_public(key))}"


def encrypt(payload: bytes, p256dh: str, auth: str) -> bytes:
    """The RFC 8291 body: aes128gcm with a fresh sender key for this message."""
    sender = ec.generate_private_key(ec.SECP256R1())
    return bytes(http_ece.encrypt(payload, salt=os.urandom(16), private_key=sender,
                                  dh=unb64url(p256dh), auth_secret=unb64url(auth),
                                  version="aes128gcm"))


def check_subscription(data: Any) -> tuple[str, dict[str, str]]:
    """(endpoint, keys) from a browser's ``PushSubscription.toJSON()``, or InvalidInput."""
    if not isinstance(data, dict):
        raise InvalidInput("subscription must be an object")
    endpoint, keys = data.get("endpoint"), data.get("keys")
    if not isinstance(endpoint, str) or len(endpoint) > 1000 or not _allowed(endpoint):
        raise InvalidInput("endpoint must be an https URL")
    if not isinstance(keys, dict) or not all(
            isinstance(keys.get(k), str) and 0 < len(keys[k]) <= 200 for k in ("p256dh", "auth")):
        raise InvalidInput("keys must hold p256dh and auth")
    try:
        if len(unb64url(keys["p256dh"])) != 65 or len(unb64url(keys["auth"])) != 16:
            raise ValueError(keys)
    except ValueError:
        raise InvalidInput("p256dh or auth is malformed") from None
    return endpoint, {"p256dh": keys["p256dh"], "auth": keys["auth"]}


def _allowed(endpoint: str) -> bool:
    """Push services are https; plain http only to this machine (development, tests)."""
    parts = urlsplit(endpoint)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}


async def send(client: httpx.AsyncClient, settings: Settings, endpoint: str,
               keys: dict[str, str], payload: dict[str, Any]) -> int:
    """POST one encrypted push; returns the push service's HTTP status."""
    body = encrypt(json.dumps(payload).encode(), keys["p256dh"], keys["auth"])
    headers = {
        "Authorization": vapid_header(endpoint, private_key(settings),
                                      f"mailto:{settings.mail_from}"),
        "Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream",
        "TTL": str(TTL_SECONDS), "Urgency": "normal",
    }
    response = await client.post(endpoint, content=body, headers=headers)
    return response.status_code
