"""Call back a lead from the portal through CallRail's outbound call endpoint (``POST calls.json``).

CallRail rings ``business_phone_number`` first — the person's own phone — and, once answered, dials the customer,
showing ``caller_id``: an active tracking number of the company, or one of its verified outbound caller IDs
(mirrored by the sync from ``GET caller_ids.json?company_id=…``; read on demand while no sync has listed
them). ``call_back_start`` refuses bad input before queuing (numbers that are not valid US/Canadian ones, a
caller ID the company does not have, an exhausted outbound-call budget, with when it frees up); what it
accepts is saved with its outbox entry (write ``call_backs``) and placed by the push drain under the
account's **outbound-call** limit class. CallRail's answer is the new outbound call, mirrored at once so it is
in the call log. A call back found in flight after a crash is looked for among the day's outbound calls
before it is placed again: nobody's phone rings twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.callrail import errors
from apps.callrail.client import client_for_account
from apps.push.models import OPEN_STATUSES, EntryStatus, Operation, OutboxEntry
from apps.push.services import PushRefused, outbox_enqueue
from apps.push.writes import Write, cid, register_write

from .models import Call, CallBack

WRITE_NAME = "call_backs"


class CallBackRefused(PushRefused):
    """A call back refused before anything was queued; ``field`` names the input at fault (or None)."""


@dataclass(frozen=True)
class CallerId:
    number: str
    label: str
    kind: str  # "tracker" or "verified"


def _e164(value: Any) -> str | None:
    from apps.text_conversations.sending import e164_us

    return e164_us(value)


#: How many finished sync runs ``caller_ids_listed_at`` looks back through.
LISTED_LOOKBACK_RUNS = 500


def caller_ids_listed_at(account: Any) -> datetime | None:
    """When a sync last listed the account's outbound caller IDs completely (a run counts a resource done only
    when every company's list was read), or None: then the mirror cannot say a company has none."""
    from apps.sync.models import SyncRun

    runs = (SyncRun.objects.for_account(account).exclude(finished_at=None).order_by("-finished_at")
            .values_list("progress", "finished_at")[:LISTED_LOOKBACK_RUNS])  # fmt: skip
    return next((at for progress, at in runs if "caller_ids" in (progress or {}).get("done", [])), None)


def caller_ids_refresh(*, account: Any, company: Any) -> None:
    """Read one company's outbound caller IDs from CallRail now (interactive lane) into the mirror: the call-back
    page of an account no sync has listed them for yet. Raises the client's errors."""
    from apps.sync.services import mirror_apply_records

    client = client_for_account(account, lane="interactive")
    records = list(client.iter_records("caller_ids.json", list_key="caller_ids",
                                       params={"company_id": company.callrail_id}))  # fmt: skip
    if records:
        mirror_apply_records(account=account, resource="caller_ids", records=records, parent=company)


def caller_ids(*, account: Any, company: Any, read_upstream: bool = True) -> tuple[list[CallerId], str]:
    """The numbers a call back may show: the company's active tracking numbers and its verified outbound caller
    IDs, both from the mirror (the sync lists caller IDs per company). While no sync has listed caller IDs for
    the account and none of the company's is mirrored, ``read_upstream`` reads the company's from CallRail first
    (interactive lane) into the mirror. Returns them and a problem reading CallRail, if any."""
    from apps.portal.formatting import format_phone
    from apps.trackers.models import Tracker

    from .models import OutboundCallerId

    out: list[CallerId] = []
    for tracker in Tracker.objects.for_account(account).filter(company=company).order_by("name", "pk"):
        if tracker.is_deleted_upstream or (tracker.status and tracker.status != "active"):
            continue
        out += [CallerId(n, f"{format_phone(n)} · {tracker.name}", "tracker")
                for n in tracker.tracking_numbers or [] if isinstance(n, str)]  # fmt: skip
    if company is None:
        return out, ""
    problem = ""
    mirrored = OutboundCallerId.objects.for_account(account).filter(company=company)
    if (read_upstream and not company.callrail_id.startswith("pending:") and not mirrored.exists()
            and caller_ids_listed_at(account) is None):  # fmt: skip
        try:
            caller_ids_refresh(account=account, company=company)
        except (errors.BudgetExhausted, errors.RateLimited):
            problem = ("CallRail's allowance is spent for now and no sync has listed the verified caller IDs yet: "
                       "only tracking numbers are offered as caller ID.")  # fmt: skip
        except errors.CallRailError:
            problem = ("CallRail did not list the verified caller IDs and no sync has yet: only tracking numbers "
                       "are offered.")  # fmt: skip
    for caller_id in mirrored.live().filter(verified=True).order_by("name", "pk"):
        number = _e164(caller_id.phone_number)
        if number and all(c.number != number for c in out):
            out.append(CallerId(number, f"{format_phone(number)} · {caller_id.name or 'Verified'}", "verified"))
    return out, problem


def open_call_backs(account: Any) -> int:
    return OutboxEntry.objects.for_account(account).filter(resource=WRITE_NAME, status__in=OPEN_STATUSES).count()


def outbound_budget_wait(*, account: Any, cost: int = 1) -> float | None:
    client = client_for_account(account, lane="interactive")
    grant = client.budget.acquire(client.scopes, "outbound_call", "interactive", cost=max(1, cost), take=False)
    return None if grant.granted else max(1.0, grant.retry_after)


def call_back_start(
    *,
    account: Any,
    customer_phone_number: str,
    business_phone_number: str,
    caller_id: str,
    company: Any = None,
    source_call: Call | None = None,
    source_form: Any = None,
    source_conversation: Any = None,
    actor: Any = None,
    allowed_caller_ids: list[CallerId] | None = None,
) -> CallBack:
    """Queue a call back (see the module's docstring); raises ``CallBackRefused`` before queuing."""
    from apps.portal.formatting import format_phone, format_when

    source = source_call or source_form or source_conversation
    company = company or getattr(source, "company", None)
    if company is None:
        raise CallBackRefused("This lead belongs to no company in CallRail, so it cannot be called back from here.")
    for row in (source, company):
        if row is not None and row.client_account_id != account.pk:
            raise CallBackRefused("These records belong to different accounts.")
    customer = _e164(customer_phone_number)
    if customer is None:
        raise CallBackRefused("CallRail calls back only valid 10-digit US or Canadian numbers; this lead's is not one.",
                              field="customer_phone_number")  # fmt: skip
    business = _e164(business_phone_number)
    if business is None:
        raise CallBackRefused("Enter your own phone number (10-digit US or Canadian): CallRail rings it first.",
                              field="business_phone_number")  # fmt: skip
    shown = _e164(caller_id)
    allowed = allowed_caller_ids
    if allowed is None:
        allowed, _ = caller_ids(account=account, company=company, read_upstream=False)
    if shown is None or all(c.number != shown for c in allowed):
        raise CallBackRefused(f"{format_phone(caller_id) or 'That number'} is not an active tracking number or a "
                              f"verified outbound caller ID of {company.name}.", field="caller_id")  # fmt: skip
    wait = outbound_budget_wait(account=account, cost=open_call_backs(account) + 1)
    if wait is not None:
        frees = timezone.now() + timedelta(seconds=wait)
        raise CallBackRefused(f"{account.name} has used its CallRail outbound-call allowance for now: the next call "
                              f"can be placed at {format_when(frees, account)}.")  # fmt: skip
    with transaction.atomic():
        row = CallBack.objects.create(
            client_account=account, company=company, caller_id=shown, business_phone_number=business,
            customer_phone_number=customer, source_call=source_call, source_form=source_form,
            source_conversation=source_conversation, actor=actor if getattr(actor, "is_authenticated", False) else None,
        )  # fmt: skip
        entry = outbox_enqueue(row=row, resource=WRITE_NAME, operation=Operation.CREATE, actor=actor,
                               options={"to": customer, "from": shown, "rings_first": business})  # fmt: skip
        CallBack.objects.for_account(account).filter(pk=row.pk).update(entry=entry)
        row.entry = entry
    return row


def call_back_state(row: CallBack) -> str:
    entry = row.entry
    if entry is None or entry.status in OPEN_STATUSES:
        return "pending"
    if entry.status == EntryStatus.DONE:
        return "placed"
    if entry.status in (EntryStatus.FAILED, EntryStatus.CONFLICT):
        return "failed"
    return "discarded"


# ------------------------------------------------------------------------------ the write description
def _create_body(row: CallBack, entry: Any) -> dict:
    cid(row.company)  # NotReady while the company is not in CallRail yet
    return {
        "caller_id": row.caller_id,
        "customer_phone_number": row.customer_phone_number,
        "business_phone_number": row.business_phone_number,
    }


def find_placed_call(client: Any, row: CallBack, entry: Any) -> dict | None:
    """The outbound call an earlier attempt placed, if any: the day's outbound calls from this caller ID to this
    customer ringing this phone, started since the call back was queued, not already another call back's."""
    since = row.created_at - timedelta(minutes=5)
    account = row.client_account
    taken = set(
        CallBack.objects.for_account(account).exclude(pk=row.pk).exclude(call=None).values_list("call__callrail_id",
                                                                                               flat=True)
    )  # fmt: skip
    params = {
        "direction": "outbound",
        "company_id": cid(row.company),
        "start_date": (since - timedelta(days=1)).date().isoformat(),
        "fields": "company_id,tracker_id",
    }
    from apps.text_conversations.services import _when

    for record in client.iter_records("calls.json", list_key="calls", params=params):
        started = _when(record.get("start_time"))
        if (
            record.get("customer_phone_number") == row.customer_phone_number
            and record.get("tracking_phone_number") == row.caller_id
            and record.get("business_phone_number") == row.business_phone_number
            and (started is None or started >= since)
            and str(record.get("id")) not in taken
        ):
            return record
    return None


def _on_done(account: Any, row: CallBack, record: dict, entry: Any, client: Any) -> None:
    """The new outbound call goes to the call log now (the next sync completes it)."""
    from apps.sync.services import mirror_apply_records

    update: dict[str, Any] = {"placed_at": timezone.now()}
    if record.get("id"):
        record = {"company_id": row.company.callrail_id, "direction": "outbound", **record}
        mirror_apply_records(account=account, resource="calls", records=[record])
        update["call"] = Call.objects.for_account(account).filter(callrail_id=str(record["id"])).first()
    CallBack.objects.for_account(account).filter(pk=row.pk).update(**update)


CALL_BACKS = Write(
    name=WRITE_NAME,
    collection="calls.json",
    item="calls/{id}.json",
    list_key="calls",
    fields=(),
    model="calls.CallBack",
    limit_class="outbound_call",
    create_body=_create_body,
    find=find_placed_call,
    on_done=_on_done,
)


def register() -> None:
    register_write(CALL_BACKS)
