"""The form summary report (``GET forms/summary.json``, read from CallRail on the interactive lane) and the
"ignored fields" setting (``POST form_submissions/ignored_fields.json``, through the outbox).

A client limited to some companies never gets whole-account totals: the summary is asked for one company of theirs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from apps.callrail.client import client_for_account
from apps.push.models import EntryStatus, Operation
from apps.push.services import PushRefused, outbox_enqueue
from apps.push.writes import Write, cid, register_write

from .models import IgnoredFormField

GROUPS = {"source": "Source", "keywords": "Keywords", "campaign": "Campaign", "referrer": "Referrer",
          "landing_page": "Landing page", "form_name": "Form name", "company": "Company"}  # fmt: skip
FIELDS = "total_forms,first_forms,leads"
WRITE_NAME = "form_ignored_fields"
_FIELD_NAME = re.compile(r"^[\w\-\[\]. ]{1,255}$")


@dataclass
class FormSummary:
    start: str
    end: str
    totals: dict[str, int]
    grouped_by: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)


def summary_companies(*, user: Any, agency: Any, account: Any, company_pk: Any = None) -> tuple[list, bool, Any]:
    """(the companies of ``account`` this person sees, whether that is fewer than all, the one chosen): a person
    limited to some companies gets one of theirs (the asked one, else the first), never whole-account totals."""
    from apps.companies.models import Company
    from apps.sync.selectors import mirror_list

    visible = list(mirror_list(Company, user=user, agency=agency).filter(client_account=account).order_by("name"))
    limited = len(visible) < Company.objects.for_account(account).live().count()
    chosen = next((c for c in visible if str(c.pk) == str(company_pk)), None) if company_pk not in (None, "") else None
    if limited and chosen is None and visible:
        chosen = visible[0]
    return visible, limited, chosen


def form_summary(*, account: Any, company: Any = None, group_by: str = "source", date_range: str = "recent"
                 ) -> FormSummary:  # fmt: skip
    """CallRail's form summary of the account (or one company). Raises the client's errors for the page to explain."""
    params: dict[str, Any] = {"fields": FIELDS, "date_range": date_range}
    if group_by and group_by in GROUPS and not (group_by == "company" and company is not None):
        params["group_by"] = group_by
    if company is not None:
        params["company_id"] = company.callrail_id
    body = client_for_account(account, lane="interactive").get("forms/summary.json", params=params)
    totals = {k: int(body.get("total_results", {}).get(k) or 0) for k in ("total_forms", "first_forms", "leads")}
    rows = [
        {"key": r.get("key") or "(none)", **{k: int(r.get(k) or 0) for k in ("total_forms", "first_forms", "leads")}}
        for r in body.get("grouped_results") or [] if isinstance(r, dict)
    ]  # fmt: skip
    return FormSummary(start=str(body.get("start_date") or ""), end=str(body.get("end_date") or ""), totals=totals,
                       grouped_by=str(body.get("grouped_by") or ""), rows=rows)  # fmt: skip


def ignored_fields_add(
    *, account: Any, names: list[str], company: Any = None, actor: Any = None
) -> list[IgnoredFormField]:
    """Tell CallRail to leave these fields out of the company's (None: every company's) form submissions."""
    clean = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if not clean:
        raise PushRefused("Name at least one form field.", field="field_names")
    bad = [n for n in clean if not _FIELD_NAME.match(n)]
    if bad:
        raise PushRefused(f"Not a form field name: {', '.join(bad)}.", field="field_names")
    if company is not None and company.client_account_id != account.pk:
        raise PushRefused("That company belongs to another account.", field="company")
    known = set(
        IgnoredFormField.objects.for_account(account).filter(company=company).values_list("field_name", flat=True)
    )
    rows = []
    with transaction.atomic():
        for name in clean:
            if name in known:
                continue
            who = actor if getattr(actor, "is_authenticated", False) else None
            row = IgnoredFormField.objects.create(client_account=account, company=company, field_name=name, actor=who)
            entry = outbox_enqueue(row=row, resource=WRITE_NAME, operation=Operation.CREATE, actor=actor,
                                   options={"field_name": name})  # fmt: skip
            IgnoredFormField.objects.for_account(account).filter(pk=row.pk).update(entry=entry)
            row.entry = entry
            rows.append(row)
    return rows


def ignored_state(row: IgnoredFormField) -> str:
    if row.entry is None or row.entry.status == EntryStatus.DONE:
        return "set"
    if row.entry.status in (EntryStatus.FAILED, EntryStatus.CONFLICT):
        return "failed"
    if row.entry.status in (EntryStatus.DISCARDED, EntryStatus.SUPERSEDED):
        return "discarded"
    return "pending"


IGNORED_FIELDS = Write(
    name=WRITE_NAME,
    collection="form_submissions/ignored_fields.json",
    item="form_submissions/ignored_fields.json",
    fields=(),
    model="form_submissions.IgnoredFormField",
    # Setting a field ignored twice changes nothing upstream: a resend after a crash is harmless.
    create_body=lambda row, entry: {
        "company_ids": [cid(row.company)] if row.company_id else ["all"],
        "field_names": [row.field_name],
    },
    on_done=lambda account, row, record, entry, client: None,
)


def register() -> None:
    register_write(IGNORED_FIELDS)
