"""The per-request context handed to resource logic and renderers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import MultiDict

from .errors import forbidden
from .timeutil import zone

if TYPE_CHECKING:
    from .state import SandboxState
    from .store import AccountData


@dataclass
class Ctx:
    state: SandboxState
    acc: AccountData
    now: datetime
    base_url: str  # scheme://host[:port] the client used (or the configured public URL)
    api_root: str  # base_url + "/v3" or base_url + "/callrail/v3"
    request_url: str  # absolute URL of this request without the query string
    args: MultiDict = field(default_factory=MultiDict)
    params: dict[str, str] = field(default_factory=dict)  # last value wins
    key_user: dict | None = None  # the CallRail user owning the API key
    body_data: dict = field(default_factory=dict)  # the parsed request body (also read on GET, as the docs do)

    @property
    def is_admin(self) -> bool:
        return self.key_user is None or self.key_user.get("role") == "admin"

    @property
    def scoped(self) -> bool:
        """Non-admin keys only see the companies their user has access to."""
        return not self.is_admin

    @property
    def allowed_companies(self) -> set[str]:
        if self.is_admin:
            return set(self.acc.companies)
        return set(self.key_user.get("_company_ids") or ())

    def visible(self, record: Any) -> bool:
        if self.is_admin:
            return True
        company_id = _company_of(record)
        return company_id is None or company_id in self.allowed_companies

    def require_role(self, *roles: str) -> None:
        role = "admin" if self.key_user is None else self.key_user.get("role")
        if role not in roles:
            raise forbidden()

    def tz_for(self, company_id: str | None) -> tzinfo:
        override = self.params.get("time_zone")
        if override and override != "user":
            try:
                return zone(override)
            except ValueError:
                pass
        company = self.acc.companies.get(company_id) if company_id else None
        return zone(company["time_zone"] if company else self.acc.time_zone)

    def account_tz(self) -> tzinfo:
        return zone(self.acc.time_zone)


def _company_of(record: Any) -> str | None:
    if isinstance(record, dict):
        if "_company_id" in record:
            return record["_company_id"]
        if str(record.get("id", "")).startswith("COM"):
            return record["id"]
        return record.get("company_id")
    return getattr(record, "company_id", None)
