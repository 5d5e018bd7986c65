"""Write services of CallRail tags (create, rename, recolour, delete): validate as CallRail would, update the
mirror and queue the push in one transaction (apps.push)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

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
    old_name = tag.name
    with transaction.atomic():
        tag = mirror_row_update(row=tag, resource="tags", values=values, actor=actor)
        if "name" in values and values["name"] != old_name:  # CallRail renames it on every call and form too
            tag_names_apply(account=tag.client_account, company_id=tag.company_id, mapping={old_name: values["name"]})
    return tag


def tag_delete(*, tag: Tag, actor: Any = None) -> Tag | None:
    """Delete a tag; CallRail removes it from every call and form submission, and so does the mirror."""
    with transaction.atomic():
        deleted = mirror_row_delete(row=tag, resource="tags", actor=actor)
        tag_names_apply(account=tag.client_account, company_id=tag.company_id, mapping={tag.name: None})
    return deleted


# ---------------------------------------------------------------------- tags on calls and form submissions
#: (company pk or None for an account tag, name, deleted)
TagFacts = tuple[int | None, str, bool]


def tag_snapshot(*, account: Any) -> dict[str, TagFacts]:
    """Every mirrored tag of the account by CallRail id: what a tags pass is compared with afterwards."""
    rows = Tag.objects.for_account(account).values_list("callrail_id", "company_id", "name", "deleted_upstream_at")
    return {cid: (company, name, deleted is not None) for cid, company, name, deleted in rows}


def tags_apply_upstream_changes(*, account: Any, before: dict[str, TagFacts]) -> dict[str, int]:
    """After a tags pass: a tag CallRail deleted is taken off every mirrored call and form submission, a
    renamed one renamed on them, as CallRail does (the docs: removing a tag removes it from every interaction;
    renaming changes it everywhere) — without waiting for those records to be listed again."""
    after = tag_snapshot(account=account)
    changes: dict[int | None, dict[str, str | None]] = {}
    for callrail_id, (company, name, deleted) in after.items():
        old = before.get(callrail_id)
        if old is None or old[2]:
            continue
        if deleted:
            changes.setdefault(company, {})[old[1]] = None
        elif old[1] != name:
            changes.setdefault(company, {})[old[1]] = name
    counts = {"renamed": 0, "removed": 0}
    for company, mapping in changes.items():
        for key, value in tag_names_apply(account=account, company_id=company, mapping=mapping).items():
            counts[key] += value
    return counts


def tag_names_apply(*, account: Any, company_id: int | None, mapping: dict[str, str | None]) -> dict[str, int]:
    """Rename (``old -> new``) or remove (``old -> None``) tag names on the calls and form submissions of the
    tag's scope (its company, or the whole account for an account tag). A name another live tag of the scope
    still carries is left alone."""
    from django.db import connection
    from django.db.models import Q
    from django.utils import timezone

    from apps.calls.models import Call
    from apps.form_submissions.models import FormSubmission
    from apps.sync.engine import payload_hash

    live = Tag.objects.for_account(account).live().filter(name__in=list(mapping))
    if company_id is not None:
        live = live.filter(Q(company_id=company_id) | Q(company__isnull=True))
    still = set(live.values_list("name", flat=True))
    mapping = {old: new for old, new in mapping.items() if old not in still or new is not None}
    counts = {"renamed": 0, "removed": 0}
    if not mapping:
        return counts
    now = timezone.now()
    for model in (Call, FormSubmission):
        rows = model.objects.for_account(account)
        if company_id is not None:
            rows = rows.filter(company_id=company_id)
        if connection.vendor == "postgresql":  # jsonb @>: only the rows carrying one of the names
            match = Q()
            for old in mapping:
                match |= Q(tags__contains=[old])
            rows = rows.filter(match)
        else:
            rows = rows.exclude(tags=[])
        changed = []
        for row in rows.only("pk", "tags", "payload").iterator(chunk_size=500):
            hit = [name for name in row.tags or [] if name in mapping]
            if not hit:
                continue
            counts["removed" if any(mapping[name] is None for name in hit) else "renamed"] += 1
            row.tags = _renamed(row.tags, mapping)
            payload = dict(row.payload or {})
            if isinstance(payload.get("tags"), list):
                payload["tags"] = _renamed(payload["tags"], mapping)
            row.payload, row.payload_hash, row.changed_at = payload, payload_hash(payload), now
            changed.append(row)
        with transaction.atomic():
            model.objects.for_account(account).bulk_update(
                changed, ["tags", "payload", "payload_hash", "changed_at"], batch_size=500
            )
    return counts


def _renamed(items: list, mapping: dict[str, str | None]) -> list:
    """A tag list (names, or objects with a ``name``) with the mapping applied, order kept."""
    out = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        if name not in mapping:
            out.append(item)
        elif mapping[name] is not None:
            out.append({**item, "name": mapping[name]} if isinstance(item, dict) else mapping[name])
    return out
