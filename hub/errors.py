"""The exceptions Zorghub raises on purpose.

The JSON API maps every ``HubError`` to ``{"error": {"code": ..., "message": ...}}`` with
the class's HTTP status; the ``code`` is stable and documented, the message is for people.

    HubError
    ├── ConfigError            a setting is missing or malformed (startup only)
    ├── NotFound               404: no such object in this organisation
    ├── Conflict               409: the object changed meanwhile, or already exists
    │   └── DuplicateClient    a client with this number (or name + birth date) exists
    ├── InvalidInput           422: a field is missing or malformed
    │   ├── FileTypeNotAllowed 415: an upload whose type is not on the allowed list
    │   └── MessagingWindowClosed  WhatsApp/Messenger will not take a free answer now
    ├── AuthError              401: not signed in, bad credentials, bad or expired token
    │   ├── ApiTokenInvalid    no or a wrong bearer token; says how (WWW-Authenticate)
    │   └── LockedOut          429: too many failures; try again later
    ├── Forbidden              403: signed in, but no right to this object
    │   ├── CsrfFailed         the form or request lacks a valid CSRF token
    │   ├── WebhookSignatureInvalid  a webhook without a valid X-Hub-Signature-256
    │   ├── WebhookVerificationFailed  a subscription check with the wrong verify token
    │   └── WebhookNotConfigured  no app secret / verify token set: nothing can be checked
    ├── RateLimited            429: too many requests
    ├── PayloadTooLarge        413: over a size cap
    └── ChannelError           502: a channel (IMAP, SMTP, Graph API) failed
        └── DeliveryFailed     a send failed for good; shown on the message
"""

from __future__ import annotations

from typing import Any, ClassVar


class HubError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str = "", **fields: Any) -> None:
        super().__init__(message)
        self.message = message or self.code.replace("_", " ")
        self.fields = fields

    def __str__(self) -> str:
        extra = ", ".join(f"{k}={v!r}" for k, v in self.fields.items())
        return f"{self.message} ({extra})" if extra else self.message

    def headers(self) -> dict[str, str]:
        """HTTP headers the error response must carry (none for most errors)."""
        return {}

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["details"] = {k: _plain(v) for k, v in self.fields.items()}
        return {"error": body}


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


class ConfigError(HubError):
    code = "config_error"

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}", setting=setting)


class NotFound(HubError):
    status = 404
    code = "not_found"


class Conflict(HubError):
    status = 409
    code = "conflict"


class DuplicateClient(Conflict):
    code = "duplicate_client"


class InvalidInput(HubError):
    status = 422
    code = "invalid_input"


class FileTypeNotAllowed(InvalidInput):
    status = 415
    code = "file_type_not_allowed"


class MessagingWindowClosed(InvalidInput):
    code = "messaging_window_closed"


class AuthError(HubError):
    status = 401
    code = "not_authenticated"


class ApiTokenInvalid(AuthError):
    """A bearer-token route without a usable token: a 401 that names the scheme (RFC 6750).

    ``given`` says a token was sent but is unknown or revoked (``error="invalid_token"``);
    without one the challenge carries no error code, as RFC 6750 section 3.1 asks. The
    code stays ``not_authenticated``, which docs/api.md documents for both cases.
    """

    def __init__(self, *, given: bool) -> None:
        super().__init__("API-token ontbreekt of is ongeldig (Authorization: Bearer ...)",
                         reason="bad_token" if given else "no_token")
        self.given = given

    def headers(self) -> dict[str, str]:
        challenge = 'Bearer realm="zorghub"'
        if self.given:
            challenge += ', error="invalid_token"'
        return {"WWW-Authenticate": challenge}


class LockedOut(AuthError):
    status = 429
    code = "locked_out"


class Forbidden(HubError):
    status = 403
    code = "forbidden"


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class WebhookSignatureInvalid(Forbidden):
    code = "webhook_signature_invalid"


class WebhookVerificationFailed(Forbidden):
    code = "webhook_verification_failed"


class WebhookNotConfigured(Forbidden):
    # nothing can be verified yet; Meta redelivers what was not answered with 200
    code = "webhook_not_configured"


class RateLimited(HubError):
    status = 429
    code = "rate_limited"


class PayloadTooLarge(HubError):
    status = 413
    code = "payload_too_large"


class ChannelError(HubError):
    status = 502
    code = "channel_error"


class DeliveryFailed(ChannelError):
    code = "delivery_failed"
