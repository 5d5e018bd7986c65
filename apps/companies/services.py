"""Write services of CallRail companies (create, update, disable) through the push outbox."""

from __future__ import annotations

from typing import Any

from apps.push import validation as v
from apps.push.services import PushRefused, mirror_row_create, mirror_row_delete, mirror_row_update

from .models import Company


def company_create(*, account: Any, name: str, time_zone: str = "", actor: Any = None) -> Company:
    name = v.required_text(name, "name")
    time_zone = v.time_zone(time_zone) if time_zone else (account.time_zone or "")
    if Company.objects.for_account(account).live().filter(name__iexact=name).exclude(status="disabled").exists():
        raise PushRefused(f"An active company named {name!r} already exists.", field="name")
    company = Company(client_account=account, name=name, time_zone=time_zone, status="active")
    return mirror_row_create(row=company, resource="companies", actor=actor)


def company_update(*, company: Company, name: str | None = None, time_zone: str | None = None,
                   actor: Any = None) -> Company:  # fmt: skip
    values: dict[str, Any] = {}
    if company.status == "disabled":
        raise PushRefused("A disabled company cannot be changed.")
    if name is not None:
        values["name"] = v.required_text(name, "name")
    if time_zone is not None:
        values["time_zone"] = v.time_zone(time_zone)
    return mirror_row_update(row=company, resource="companies", values=values, actor=actor)


def company_disable(*, company: Company, actor: Any = None) -> Company | None:
    others = (
        Company.objects.for_account(company.client_account_id).live().filter(status="active").exclude(pk=company.pk)
    )
    if not others.exists():
        raise PushRefused("CallRail requires at least one active company.")
    return mirror_row_delete(row=company, resource="companies", actor=actor)
