"""The missed-lead inbox: leads nobody has answered yet, per agency or per account, computed from the mirror.

- a missed call or voicemail (inbound, not answered, not spam) with no later call — either way — and no later
  text to that number;
- a form submission with a phone number and no later call or text to it (a text back or call back from the portal
  counts as soon as it is queued);
- a conversation whose newest message is the customer's, with no later call or text to that number.

Answering from the portal (a text or a call back, even still pending) clears a lead at once; answering from
CallRail's app clears it when the mirror sees the outbound call or text (sync or webhooks). One lead per number
and account: its newest unanswered interaction. Everything is read through the viewer's scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps.calls.models import Call, CallBack
from apps.form_submissions.models import FormSubmission
from apps.push.models import EntryStatus
from apps.sync.selectors import mirror_list
from apps.text_conversations.models import OutgoingText, TextConversation

from .models import LeadAssignment, LeadKind

#: How far back the inbox looks (CallRail's "Recent" range).
WINDOW_DAYS = 30
LIMIT = 500
_DEAD = (EntryStatus.FAILED, EntryStatus.DISCARDED, EntryStatus.SUPERSEDED, EntryStatus.CONFLICT)


@dataclass
class Lead:
    kind: str
    row: Any
    account: Any
    at: datetime
    number: str
    name: str
    assignee: Any = None
    members: list[Any] | None = None  # who may be assigned (filled by the page)

    @property
    def label(self) -> str:
        return LeadKind(self.kind).label if self.kind != LeadKind.CALL or not self.row.voicemail else "Voicemail"

    @property
    def age(self) -> timedelta:
        return timezone.now() - self.at

    @property
    def resource(self) -> str:
        return {"call": "calls", "form": "form_submissions", "text": "text_conversations"}[self.kind]


def _answered_after(time_field: str) -> Q:
    """Conditions (on a Call / FormSubmission / TextConversation row) that say the number was answered later."""
    number, account = OuterRef("customer_phone_number"), OuterRef("client_account_id")
    later_call = Call.objects.for_account(account).filter(
        customer_phone_number=number, start_time__gt=OuterRef(time_field)
    )
    later_text = OutgoingText.objects.for_account(account).filter(
        customer_phone_number=number, created_at__gt=OuterRef(time_field)
    ).exclude(entry__status__in=_DEAD)
    later_call_back = CallBack.objects.for_account(account).filter(
        customer_phone_number=number, created_at__gt=OuterRef(time_field)
    ).exclude(entry__status__in=_DEAD)
    upstream_text = TextConversation.objects.for_account(account).filter(
        customer_phone_number=number, last_message_at__gt=OuterRef(time_field),
        payload__recent_messages__0__direction="outgoing",
    )  # fmt: skip
    return Q(Exists(later_call)) | Q(Exists(later_text)) | Q(Exists(later_call_back)) | Q(Exists(upstream_text))


def missed_leads(*, user: Any, agency: Any, account: Any = None, now: datetime | None = None) -> list[Lead]:
    """The unanswered leads the user may see (of one account, or of every account of the agency), oldest first."""
    since = (now or timezone.now()) - timedelta(days=WINDOW_DAYS)

    def scoped(model: Any):
        rows = mirror_list(model, user=user, agency=agency)
        return rows.filter(client_account=account) if account is not None else rows

    calls = (
        scoped(Call)
        .filter(direction="inbound", answered=False, spam=False, start_time__gte=since)
        .exclude(customer_phone_number__in=("", None))
        .exclude(_answered_after("start_time"))
        .select_related("client_account", "company")
        .order_by("-start_time")[:LIMIT]
    )
    forms = (
        scoped(FormSubmission)
        .filter(submitted_at__gte=since)
        .exclude(customer_phone_number__in=("", None))
        .exclude(_answered_after("submitted_at"))
        .select_related("client_account", "company")
        .order_by("-submitted_at")[:LIMIT]
    )
    texts = (
        scoped(TextConversation)
        .filter(last_message_at__gte=since, payload__recent_messages__0__direction="incoming")
        .exclude(customer_phone_number__in=("", None))
        .exclude(_answered_after("last_message_at"))
        .select_related("client_account", "company")
        .order_by("-last_message_at")[:LIMIT]
    )
    found: dict[tuple[int, str], Lead] = {}
    candidates = [
        *(Lead(LeadKind.CALL, c, c.client_account, c.start_time, c.customer_phone_number, c.customer_name or "")
          for c in calls),
        *(Lead(LeadKind.FORM, f, f.client_account, f.submitted_at, f.customer_phone_number, f.customer_name or "")
          for f in forms),
        *(Lead(LeadKind.TEXT, t, t.client_account, t.last_message_at, t.customer_phone_number, t.customer_name or "")
          for t in texts),
    ]  # fmt: skip
    for lead in candidates:
        key = (lead.account.pk, lead.number)
        if key not in found or found[key].at < lead.at:
            found[key] = lead
    leads = sorted(found.values(), key=lambda lead: lead.at)
    assignments = {
        (a.client_account_id, a.kind, a.object_pk): a.assignee
        for a in LeadAssignment.objects.visible_to(user, agency).select_related("assignee")
    }
    for lead in leads:
        lead.assignee = assignments.get((lead.account.pk, lead.kind, lead.row.pk))
    return leads


def lead_row(*, user: Any, agency: Any, account: Any, kind: str, pk: int) -> Any:
    """The lead's mirrored row through the viewer's scope (None: not theirs)."""
    model = {LeadKind.CALL: Call, LeadKind.FORM: FormSubmission, LeadKind.TEXT: TextConversation}.get(kind)
    if model is None:
        return None
    return mirror_list(model, user=user, agency=agency).filter(client_account=account, pk=pk).first()


def assignable_members(*, agency: Any, account: Any) -> list[Any]:
    """The agency's owners, admins and staff who work in this account (staff limited to other accounts excluded)."""
    from apps.tenancy.models import Membership, Role

    out = []
    rows = Membership.objects.filter(agency=agency, is_active=True, user__is_active=True,
                                     role__in=(Role.OWNER, Role.ADMIN, Role.STAFF)).select_related("user")  # fmt: skip
    for membership in rows.order_by("user__email"):
        limited = list(membership.client_accounts.values_list("pk", flat=True))
        if membership.role != Role.STAFF or not limited or account.pk in limited:
            out.append(membership.user)
    return out
