"""TOTP second factor (RFC 6238, pyotp) with replay protection, and recovery codes.

A code is accepted for the current 30-second step or one step either side (clock skew),
and only for a step later than the last one accepted (``totp_last_step``): the same code
cannot be used twice, not even by two requests racing, because the step is stored with
a conditional UPDATE. Recovery codes are random, shown once, and stored as SHA-256
hashes (they carry 50 bits of randomness, so a fast hash is enough); spending one is a
conditional UPDATE too, so a code lets in one login, however many race with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import secrets
import time
from typing import Literal

import pyotp
import qrcode
import qrcode.image.svg
from sqlalchemy import Text, cast, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from hub.db.models import PortalUser, Staff

ISSUER = "Zorghub"
STEP_SECONDS = 30
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
# rounds of read-and-swap when other codes of the same user are spent at the same moment
SPEND_ATTEMPTS = 5

Verdict = Literal["ok", "wrong", "replayed"]


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_data_url(uri: str) -> str:
    """The provisioning URI as an SVG QR code in a data: URL (CSP allows data: images)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathFillImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side), else None."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    step = int((time.time() if now is None else now) // STEP_SECONDS)
    totp = pyotp.TOTP(secret)
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.at(candidate * STEP_SECONDS), code):
            return candidate
    return None


async def accept_code(db: AsyncSession, user: Staff | PortalUser, code: str,
                      secret: str | None = None) -> Verdict:
    """Check ``code`` against the user's secret (or ``secret`` while setting up)."""
    secret = secret or user.totp_secret
    step = matching_step(secret, code) if secret else None
    if step is None:
        return "wrong"
    model = type(user)
    result = await db.execute(update(model).where(
        model.id == user.id,
        or_(model.totp_last_step.is_(None), model.totp_last_step < step),
    ).values(totp_last_step=step))
    if not getattr(result, "rowcount", 0):
        return "replayed"
    user.totp_last_step = step
    return "ok"


def new_recovery_codes() -> list[str]:
    return ["-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(2))
            for _ in range(RECOVERY_CODES)]


def hash_recovery_code(code: str) -> str:
    normal = "".join(code.lower().split()).replace("-", "")
    return hashlib.sha256(f"zh-recovery:{normal}".encode()).hexdigest()


async def spend_recovery_code(db: AsyncSession, user: Staff | PortalUser, code: str) -> bool:
    """Spend one recovery code, once; False when it is not (or no longer) one of them.

    The stored list is swapped by a conditional UPDATE on its exact stored text, so of
    two logins racing with the same code only one changes the row: the other's UPDATE
    waits for the row, finds it changed and reads the list again, now without the code.
    Another code spent at the same moment only costs a second round.
    """
    digest = hash_recovery_code(code)
    model = type(user)
    stored_text = cast(model.recovery_codes, Text)
    for _ in range(SPEND_ATTEMPTS):
        stored = await db.scalar(select(stored_text).where(model.id == user.id))
        remaining = [h for h in json.loads(stored or "[]") if isinstance(h, str)]
        if stored is None or not any(hmac.compare_digest(digest, h) for h in remaining):
            return False
        remaining.remove(digest)
        result = await db.execute(
            update(model).where(model.id == user.id, stored_text == stored)
            .values(recovery_codes=remaining)
            .execution_options(synchronize_session=False))
        if getattr(result, "rowcount", 0):
            set_committed_value(user, "recovery_codes", remaining)
            return True
    return False
