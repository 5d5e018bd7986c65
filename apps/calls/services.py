"""Write services of calls (note, tags replace/append, lead status, value, spam, customer name) via the outbox.

Hazards: CallRail creates an unknown tag name upstream as a company tag, so tag names are checked against
the mirror first; marking a call as spam hides it from CallRail's lists, so the mirror keeps it (the pull's
disappearance sweep skips spam calls) and shows it as spam. Spam cannot be removed through the API.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from apps.push import validation as v
from apps.push.services import PushRefused, mirror_row_update
from apps.tags.models import Tag

from .models import Call

_UNSET: Any = object()


def _known_tags(call: Call, names: list[str]) -> list[str]:
    """The mirror's spelling of each name; refuses names that are no enabled tag of the call's company or
    account (CallRail would silently create them). A disabled tag the call already carries may stay; one it
    does not carry is refused as disabled, not as unknown."""
    wanted = [n.strip() for n in names if isinstance(n, str) and n.strip()]
    tags = (
        Tag.objects.for_account(call.client_account_id)
        .live()
        .filter(Q(company_id=call.company_id) | Q(company__isnull=True))
        .exclude(callrail_id__startswith="pending:")
    )
    held = {t.lower() for t in call.tags or []}
    by_name: dict[str, str] = {}
    disabled: dict[str, str] = {}
    for tag in tags:
        (by_name if tag.status == "enabled" or tag.name.lower() in held else disabled)[tag.name.lower()] = tag.name
    off = [disabled[n.lower()] for n in wanted if n.lower() not in by_name and n.lower() in disabled]
    unknown = [n for n in wanted if n.lower() not in by_name and n.lower() not in disabled]
    problems = []
    if off:
        problems.append(f"{', '.join(off)} {'is' if len(off) == 1 else 'are'} disabled for this call's company in "
                        "CallRail; enable the tag first.")  # fmt: skip
    if unknown:
        problems.append(f"Unknown tag(s): {', '.join(unknown)}. Create the tag first.")
    if problems:
        raise PushRefused(" ".join(problems), field="tags")
    return list(dict.fromkeys(by_name[n.lower()] for n in wanted))


def call_update(
    *, call: Call, note: Any = _UNSET, lead_status: Any = _UNSET, value: Any = _UNSET, customer_name: Any = _UNSET,
    tags: list[str] | None = None, actor: Any = None,
) -> Call:  # fmt: skip
    """Edit a call; only the given fields change. ``tags`` replaces the call's tags."""
    values: dict[str, Any] = {}
    if note is not _UNSET:
        if note and len(note) > 10000:
            raise PushRefused("The note is longer than 10,000 characters.", field="note")
        values["note"] = note or None
    if lead_status is not _UNSET:
        if lead_status not in (None, ""):
            v.choice(lead_status, v.LEAD_STATUSES, "lead_status")
            if lead_status == "good_lead" and call.lead_status == "previously_marked_good_lead":
                raise PushRefused("This lead was previously marked good and cannot be marked good again.",
                                  field="lead_status")  # fmt: skip
        values["lead_status"] = lead_status or None
    if value is not _UNSET:
        values["value"] = v.money(value)
    if customer_name is not _UNSET:
        if customer_name and len(customer_name) > 255:
            raise PushRefused("The customer name is longer than 255 characters.", field="customer_name")
        values["customer_name"] = customer_name or None
    if tags is not None:
        values["tags"] = _known_tags(call, tags)
    return mirror_row_update(row=call, resource="calls", values=values, actor=actor)


def call_note_update(*, call: Call, note: str | None, actor: Any = None) -> Call:
    return call_update(call=call, note=note, actor=actor)


def call_lead_status_update(*, call: Call, lead_status: str | None, actor: Any = None) -> Call:
    return call_update(call=call, lead_status=lead_status, actor=actor)


def call_value_update(*, call: Call, value: Any, actor: Any = None) -> Call:
    return call_update(call=call, value=value, actor=actor)


def call_customer_name_update(*, call: Call, customer_name: str | None, actor: Any = None) -> Call:
    return call_update(call=call, customer_name=customer_name, actor=actor)


def call_tags_replace(*, call: Call, tags: list[str], actor: Any = None) -> Call:
    return call_update(call=call, tags=tags, actor=actor)


def call_tags_append(*, call: Call, tags: list[str], actor: Any = None) -> Call:
    """Add tags (CallRail's append_tags): only the new names are sent, so a concurrent upstream tag stays."""
    call = Call.objects.for_account(call.client_account_id).get(pk=call.pk)
    names = [n for n in _known_tags(call, tags) if n.lower() not in {t.lower() for t in call.tags or []}]
    if not names:
        return call
    return mirror_row_update(row=call, resource="calls", values={"tags": [*(call.tags or []), *names]},
                             options={"append_tags": True, "tags": names}, actor=actor)  # fmt: skip


def call_spam_mark(*, call: Call, actor: Any = None) -> Call:
    """Mark as spam (cannot be undone through CallRail's API). The mirror keeps the call, shown as spam."""
    if call.spam:
        return call
    return mirror_row_update(row=call, resource="calls", values={"spam": True}, actor=actor)
