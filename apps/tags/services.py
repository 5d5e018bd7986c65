"""Write services of CallRail tags (create, rename, recolour, delete): validate as CallRail would, update the
mirror and queue the push in one transaction (apps.push)."""

from __future__ import annotations

from typing import Any

from apps.push import validation as v
from apps.push.services import PushRefused, mirror_row_create, mirror_row_delete, mirror_row_update

from .models import Tag


def _unique_name(account: Any, name: str, company: Any, exclude: Tag | None = None) -> None:
    rows = Tag.objects.for_account(account).live().filter(name__iexact=name, company=company)
    if exclude is not None:
        rows = rows.exclude(pk=exclude.pk)
    if rows.exists():
        raise PushRefused(f"A tag named {name!r} already exists {'in this company' if company else 'account-wide'}.",
                          field="name")  # fmt: skip


def tag_create(
    *, account: Any, name: str, tag_level: str = "company", company: Any = None, color: str | None = None,
    actor: Any = None,
) -> Tag:  # fmt: skip
    """A company tag (``company`` required) or an account tag (``tag_level="account"``)."""
    name = v.required_text(name, "name")
    v.choice(tag_level, ("company", "account"), "tag_level")
    if tag_level == "company" and company is None:
        raise PushRefused("A company tag needs a company.", field="company")
    if tag_level == "account":
        company = None
    v.same_account(account, company, "company")
    color = v.choice(color or "gray1", v.TAG_COLORS, "color")
    _unique_name(account, name, company)
    tag = Tag(client_account=account, company=company, name=name, tag_level=tag_level, color=color,
              background_color=color, status="enabled")  # fmt: skip
    return mirror_row_create(row=tag, resource="tags", actor=actor)


def tag_update(*, tag: Tag, name: str | None = None, color: str | None = None, actor: Any = None) -> Tag:
    """Rename and/or recolour."""
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = v.required_text(name, "name")
        _unique_name(tag.client_account_id, values["name"], tag.company_id, exclude=tag)
    if color is not None:
        values["color"] = v.choice(color, v.TAG_COLORS, "color")
    return mirror_row_update(row=tag, resource="tags", values=values, actor=actor)


def tag_delete(*, tag: Tag, actor: Any = None) -> Tag | None:
    return mirror_row_delete(row=tag, resource="tags", actor=actor)
