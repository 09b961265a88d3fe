"""All configuration in one frozen dataclass, read from ``HUB_*`` environment variables.

Nothing reads the environment anywhere else: ``create_app(settings)`` and the worker
build every resource from one ``Settings``. Defaults are safe for a laptop: SQLite in the
data folder, a private Redis, no outgoing mail.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Settings:
    # where the embedded database, private Redis socket and attachments live
    data_dir: Path = Path("./data")
    # SQLAlchemy URL; empty means SQLite in data_dir
    database_url: str = ""
    # redis:// or unix:// URL; empty means start a private redis-server
    redis_url: str = ""
    # key for signed cookies and tokens; generated and kept in data_dir when empty
    secret_key: str = ""
    # public base URL, used in links in emails and to decide on Secure cookies
    base_url: str = "http://127.0.0.1:8000"
    # organisation name used by `hub demo` and the single-tenant default
    default_org_slug: str = "demo"
    # language of the interface when the user has not chosen: nl or en
    default_language: str = "nl"
    # staff must set up a TOTP second factor before using the app
    require_staff_2fa: bool = True
    # minutes of inactivity after which a session ends
    session_idle_minutes: int = 30
    # hours after which a session ends regardless of activity
    session_absolute_hours: int = 12
    # failed logins per account (and per address) before a temporary lockout
    login_max_failures: int = 5
    # minutes a lockout lasts
    login_lockout_minutes: int = 15
    # hours an invitation or password reset link stays valid
    invite_valid_hours: int = 72
    # biggest inbound message (email, upload) accepted, in bytes
    max_message_bytes: int = 25 * 1024 * 1024
    # biggest single attachment kept, in bytes; larger ones are listed, not stored
    max_attachment_bytes: int = 15 * 1024 * 1024
    # SMTP server for outgoing mail (notifications, invitations); empty disables sending
    smtp_host: str = ""
    # SMTP port
    smtp_port: int = 587
    # SMTP security: none, starttls or tls
    smtp_security: str = "starttls"
    # SMTP user name; empty means no authentication
    smtp_user: str = ""
    # SMTP password
    smtp_password: str = ""
    # sender address of notification mail
    mail_from: str = "zorghub@example.nl"
    # seconds between polls of a mailbox whose server has no IMAP IDLE
    mail_poll_seconds: float = 60.0
    # seconds one IMAP IDLE lasts before it is renewed (servers drop it after 30 minutes)
    mail_idle_seconds: float = 1500.0
    # seconds before the first retry after an IMAP failure; doubles up to 5 minutes
    mail_backoff_seconds: float = 5.0
    # messages fetched from IMAP (and stored) per batch and transaction
    mail_fetch_batch: int = 50
    # processes that parse and sanitise mail next to the worker; 0 parses in the worker
    mail_parse_processes: int = 1
    # extra trusted CA certificates (PEM file) for IMAP/SMTP servers; empty: system only
    mail_ca_file: str = ""
    # base URL of the Meta Graph API (changed in tests to a local server)
    graph_api_url: str = "https://graph.facebook.com/v21.0"
    # app secret used to verify Meta webhook signatures
    meta_app_secret: str = ""
    # token Meta echoes when verifying a webhook subscription
    meta_verify_token: str = ""
    # biggest Meta webhook body accepted, in bytes (Meta's batches are far smaller)
    meta_webhook_max_bytes: int = 1024 * 1024
    # seconds one Graph API request (send, media download) may take before it is retried
    graph_timeout_seconds: float = 20.0
    # biggest websocket frame accepted, in bytes
    ws_max_frame_bytes: int = 64 * 1024
    # frames per 10 seconds per connection before it is closed as a flood
    ws_rate_limit: int = 100
    # seconds between websocket heartbeats
    ws_heartbeat_seconds: float = 20.0
    # seconds before an unread message notifies an offline recipient
    notify_delay_seconds: int = 120
    # bytes of frames queued for one websocket before it is dropped as too slow (it resumes)
    ws_send_buffer_bytes: int = 256 * 1024
    # Web Push VAPID private key (base64url, raw P-256); empty means one kept in data_dir
    vapid_private_key: str = ""
    # log level: DEBUG, INFO, WARNING, ERROR
    log_level: str = "INFO"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every field from ``HUB_<FIELD>``; unknown ``HUB_`` names are an error."""
        env = os.environ if environ is None else environ
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in env.items():
            if not key.startswith("HUB_"):
                continue
            name = key[4:].lower()
            if name not in fields:
                raise ConfigError(key, "unknown setting")
            values[name] = _convert(key, raw, fields[name].type)
        return cls(**values)

    def with_changes(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hub.sqlite3').resolve()}"

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")

    def effective_secret_key(self) -> str:
        """The configured key, else one generated once and kept in the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def _convert(key: str, raw: str, kind: Any) -> Any:
    kind = str(kind)
    try:
        if kind == "bool":
            return _to_bool(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
    except ValueError as exc:
        raise ConfigError(key, f"cannot read {raw!r} as {kind}") from exc
    return raw


def _to_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(raw)
