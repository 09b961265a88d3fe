"""Who is asking: a signed-in staff member, portal user or API token, and from where."""

from __future__ import annotations

import dataclasses
from typing import Literal

PrincipalKind = Literal["staff", "portal", "api", "system", "anonymous"]


@dataclasses.dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    organisation_id: int
    user_id: int | None
    name: str
    # admin / coordinator / staff for staff; "portal" for portal users; "api" for tokens
    role: str
    is_privacy_officer: bool = False
    # set for cookie sessions; used to revoke and to bind CSRF tokens
    session_key: str | None = None
    # access point, for the audit log
    ip: str = ""
    user_agent: str = ""
    # on whose behalf (e.g. a representative's relation to the client)
    on_behalf_of: str = ""
    # a TOTP code was checked for this session (the audit log demands it)
    second_factor: bool = False
    # interface language chosen by the user: nl or en ("" = organisation default)
    language: str = ""

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def is_portal(self) -> bool:
        return self.kind == "portal"

    def at(self, ip: str, user_agent: str) -> Principal:
        return dataclasses.replace(self, ip=ip, user_agent=user_agent[:300])


def anonymous_principal(organisation_id: int, ip: str = "", user_agent: str = "") -> Principal:
    """Someone not (validly) signed in: a failed login, a forged cookie. Audited too."""
    return Principal("anonymous", organisation_id, None, "anoniem", "anonymous", ip=ip,
                     user_agent=user_agent[:300])


def system_principal(organisation_id: int, name: str = "systeem") -> Principal:
    """Jobs and pollers act as the system; still audited, never a person."""
    return Principal("system", organisation_id, None, name, "system")
