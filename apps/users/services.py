"""Write services of CallRail users (create, update companies, delete) through the push outbox.

CallRail's API cannot change a user's role (PUT /users/{id}.json takes names, email and companies only), and
names/email only for the key's own user; the services refuse those with the reason rather than send an edit
CallRail would ignore or refuse.
"""

from __future__ import annotations

from typing import Any

from apps.companies.models import Company
from apps.push import validation as v
from apps.push.services import PushRefused, mirror_row_create, mirror_row_delete, mirror_row_update

from .models import CallRailUser


def _company_ids(account: Any, companies: list[Any]) -> list[str]:
    ids = []
    for company in companies:
        if not isinstance(company, Company):
            company = Company.objects.for_account(account).filter(callrail_id=str(company)).first()
            if company is None:
                raise PushRefused("Unknown company.", field="companies")
        v.same_account(account, company, "company")
        if not v.in_callrail(company):
            raise PushRefused(f"Company {company} is not in CallRail yet; try again in a moment.", field="companies")
        ids.append(company.callrail_id)
    return ids


def callrail_user_create(
    *, account: Any, first_name: str, last_name: str, email: str, role: str, companies: list[Any] | None = None,
    actor: Any = None,
) -> CallRailUser:  # fmt: skip
    first_name = v.required_text(first_name, "first_name", max_length=150)
    last_name = v.required_text(last_name, "last_name", max_length=150)
    email = v.email(email)
    role = v.choice(role, v.USER_ROLES, "role")
    if CallRailUser.objects.for_account(account).live().filter(email__iexact=email).exists():
        raise PushRefused("Email has already been taken.", field="email")
    ids = _company_ids(account, companies or []) if role != "admin" else []
    if role != "admin" and not ids:
        raise PushRefused("A manager or reporting user needs at least one company.", field="companies")
    user = CallRailUser(client_account=account, first_name=first_name, last_name=last_name,
                        name=f"{first_name} {last_name}", email=email, role=role, accepted=False,
                        company_ids=ids)  # fmt: skip
    return mirror_row_create(row=user, resource="users", actor=actor)


def callrail_user_update(
    *, user: CallRailUser, companies: list[Any] | None = None, role: str | None = None, actor: Any = None
) -> CallRailUser:
    """Change the companies a manager or reporting user may access."""
    if role is not None and role != user.role:
        raise PushRefused("CallRail's API cannot change a user's role; change it in CallRail.", field="role")
    if companies is None:
        return user
    if user.role == "admin":
        raise PushRefused("Administrators have access to all companies; company access cannot be changed.",
                          field="companies")  # fmt: skip
    if user.accepted is False:
        raise PushRefused("CallRail only updates users who have accepted their invitation.")
    ids = _company_ids(user.client_account_id, companies)
    if not ids:
        raise PushRefused("A manager or reporting user needs at least one company.", field="companies")
    return mirror_row_update(row=user, resource="users", values={"company_ids": ids}, actor=actor)


def callrail_user_delete(*, user: CallRailUser, actor: Any = None) -> CallRailUser | None:
    return mirror_row_delete(row=user, resource="users", actor=actor)
