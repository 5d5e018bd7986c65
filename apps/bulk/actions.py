"""The bulk actions, one declaration each: the parameters a person chooses, what would change on one record
(the dry-run preview), and the write, always through the mirror app's service (which queues the outbox).

Parameters are JSON values (ids as strings) so a preview can be signed and a job stored; ``run`` looks the
referenced rows up again inside the record's account. ``run`` returns True when something was queued, False
when the record already was as asked, and raises ``PushRefused`` with the reason when it cannot be done.

Not offered, because CallRail's API cannot do it: changing a CallRail user's role (PUT /users takes names,
email and companies only) and un-marking spam (a call marked as spam cannot be restored through the API).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms

from apps.calls import services as call_services
from apps.companies import services as company_services
from apps.companies.models import Company
from apps.notifications import services as notification_services
from apps.notifications.models import Notification
from apps.push import validation as v
from apps.push.models import PENDING_PREFIX
from apps.push.services import PushRefused
from apps.summary_emails import services as summary_services
from apps.summary_emails.models import SummaryEmail
from apps.tags import services as tag_services
from apps.tags.models import Tag
from apps.trackers import services as tracker_services
from apps.trackers.models import Tracker
from apps.users import services as user_services
from apps.users.models import CallRailUser

LEAD_CHOICES = (("good_lead", "Good lead"), ("not_a_lead", "Not a lead"), ("", "No lead status (clear)"))
ALERT_CHOICES = (
    ("all", "All calls"),
    ("first_call", "First-time callers"),
    ("missed_and_vm", "Missed calls and voicemails"),
    ("vm_only", "Voicemails only"),
)
FREQUENCY_CHOICES = [(f, f.title()) for f in v.FREQUENCIES]
CONTENT_CHOICES = [(k, k.replace("_", " ").capitalize()) for k in v.SUMMARY_CONFIG_KEYS]


@dataclass
class ActionContext:
    """What an action may look at: the list's account, the acting person, the chosen target accounts."""

    account: Any
    actor: Any
    targets: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class BulkAction:
    name: str
    resource: str
    label: str
    fields: Callable[[Any], dict[str, forms.Field]]  # account -> form fields of the parameters
    plan: Callable[[Any, dict, ActionContext], str | None]  # the change on one record; None: nothing to do
    run: Callable[[Any, dict, ActionContext], bool]
    destructive: bool = False
    copies: bool = False  # writes into other client accounts (one unit per record and target account)
    help: str = ""
    #: the CallRail limit class each change spends (texts: ``sms_send``), shown in the dry run's budget
    limit_class: str = "general"

    def form_class(self, account: Any) -> type[forms.Form]:
        return type(f"{self.name.title()}Form", (forms.Form,), dict(self.fields(account)))


# ------------------------------------------------------------------------------------------ helpers
def _tag_choices(account: Any) -> list[tuple[str, str]]:
    rows = (
        Tag.objects.for_account(account).live().filter(status="enabled").exclude(callrail_id__startswith=PENDING_PREFIX)
    )
    names = dict.fromkeys(rows.order_by("name").values_list("name", flat=True))
    return [(n, n) for n in names if n]


def _company_choices(account: Any) -> list[tuple[str, str]]:
    rows = Company.objects.for_account(account).live().filter(status="active").order_by("name")
    return [(str(pk), name) for pk, name in rows.values_list("pk", "name")]


def _companies(account: Any, ids: list[str]) -> list[Company]:
    rows = Company.objects.for_account(account).live().filter(pk__in=[int(i) for i in ids])
    return list(rows.order_by("name"))


def _lower(names: list[str] | None) -> set[str]:
    return {n.lower() for n in names or []}


def _tags_field(account: Any) -> dict[str, forms.Field]:
    return {
        "tags": forms.MultipleChoiceField(
            label="Tags", choices=_tag_choices(account), widget=forms.CheckboxSelectMultiple,
            error_messages={"required": "Choose at least one tag."},
        )
    }  # fmt: skip


def _companies_field(account: Any) -> dict[str, forms.Field]:
    return {
        "companies": forms.MultipleChoiceField(
            label="Companies", choices=_company_choices(account), widget=forms.CheckboxSelectMultiple,
            error_messages={"required": "Choose at least one company."},
        )
    }  # fmt: skip


def _no_fields(account: Any) -> dict[str, forms.Field]:
    return {}


class MoneyField(forms.CharField):
    def clean(self, value: Any) -> str:
        value = super().clean(value)
        try:
            amount = v.money(value)
        except PushRefused as exc:
            raise forms.ValidationError(exc.message) from None
        return "" if amount is None else str(amount)


class TimeZoneField(forms.CharField):
    def clean(self, value: Any) -> str:
        value = super().clean(value)
        try:
            return v.time_zone(value)
        except PushRefused as exc:
            raise forms.ValidationError(exc.message) from None


# ------------------------------------------------------------------------------------------ calls
def _plan_tags_add(call, p, ctx) -> str | None:
    new = [t for t in p["tags"] if t.lower() not in _lower(call.tags)]
    return f"add {', '.join(new)}" if new else None


def _run_tags_add(call, p, ctx) -> bool:
    before = list(call.tags or [])
    row = call_services.call_tags_append(call=call, tags=p["tags"], actor=ctx.actor)
    return list(row.tags or []) != before


def _plan_tags_remove(call, p, ctx) -> str | None:
    gone = [t for t in call.tags or [] if t.lower() in _lower(p["tags"])]
    return f"remove {', '.join(gone)}" if gone else None


def _run_tags_remove(call, p, ctx) -> bool:
    if _plan_tags_remove(call, p, ctx) is None:
        return False
    keep = [t for t in call.tags or [] if t.lower() not in _lower(p["tags"])]
    call_services.call_tags_replace(call=call, tags=keep, actor=ctx.actor)
    return True


def _lead_label(value: str | None) -> str:
    return dict(LEAD_CHOICES).get(value or "", value or "none")


def _plan_lead(call, p, ctx) -> str | None:
    if (call.lead_status or "") == p["lead_status"]:
        return None
    return f"lead status {_lead_label(call.lead_status)} → {_lead_label(p['lead_status'])}"


def _run_lead(call, p, ctx) -> bool:
    if _plan_lead(call, p, ctx) is None:
        return False
    call_services.call_lead_status_update(call=call, lead_status=p["lead_status"] or None, actor=ctx.actor)
    return True


def _plan_spam(call, p, ctx) -> str | None:
    return None if call.spam else "mark as spam"


def _run_spam(call, p, ctx) -> bool:
    if call.spam:
        return False
    call_services.call_spam_mark(call=call, actor=ctx.actor)
    return True


def _plan_value(call, p, ctx) -> str | None:
    new = v.money(p["value"])
    if call.value == new:
        return None
    return f"value {call.value if call.value is not None else 'none'} → {new if new is not None else 'none'}"


def _run_value(call, p, ctx) -> bool:
    if _plan_value(call, p, ctx) is None:
        return False
    call_services.call_value_update(call=call, value=p["value"], actor=ctx.actor)
    return True


# ------------------------------------------------------------------------------------------ disable / delete
def _plan_disable(row, p, ctx) -> str | None:
    return None if getattr(row, "status", "") == "disabled" else "disable"


def _disable(service: Callable, kw: str) -> Callable:
    def run(row, p, ctx) -> bool:
        if getattr(row, "status", "") == "disabled":
            return False
        service(**{kw: row, "actor": ctx.actor})
        return True

    return run


def _plan_delete(row, p, ctx) -> str | None:
    return "delete"


def _delete(service: Callable, kw: str) -> Callable:
    def run(row, p, ctx) -> bool:
        service(**{kw: row, "actor": ctx.actor})
        return True

    return run


# ------------------------------------------------------------------------------------------ companies, tags
def _plan_time_zone(company, p, ctx) -> str | None:
    if company.time_zone == p["time_zone"]:
        return None
    return f"time zone {company.time_zone or 'none'} → {p['time_zone']}"


def _run_time_zone(company, p, ctx) -> bool:
    if _plan_time_zone(company, p, ctx) is None:
        return False
    company_services.company_update(company=company, time_zone=p["time_zone"], actor=ctx.actor)
    return True


def _plan_colour(tag, p, ctx) -> str | None:
    return None if tag.color == p["color"] else f"colour {tag.color} → {p['color']}"


def _run_colour(tag, p, ctx) -> bool:
    if _plan_colour(tag, p, ctx) is None:
        return False
    tag_services.tag_update(tag=tag, color=p["color"], actor=ctx.actor)
    return True


# ------------------------------------------------------------------------------------------ CallRail users
def _plan_companies_add(user, p, ctx) -> str | None:
    add = [c for c in _companies(user.client_account_id, p["companies"]) if c.callrail_id not in user.company_ids]
    return f"give access to {', '.join(c.name for c in add)}" if add else None


def _run_companies_add(user, p, ctx) -> bool:
    if _plan_companies_add(user, p, ctx) is None:
        return False
    wanted = _companies(user.client_account_id, p["companies"])
    current = list(Company.objects.for_account(user.client_account_id).filter(callrail_id__in=user.company_ids or []))
    merged = list({c.pk: c for c in [*current, *wanted]}.values())
    user_services.callrail_user_update(user=user, companies=merged, actor=ctx.actor)
    return True


def _plan_companies_remove(user, p, ctx) -> str | None:
    gone = [c for c in _companies(user.client_account_id, p["companies"]) if c.callrail_id in (user.company_ids or [])]
    return f"remove access to {', '.join(c.name for c in gone)}" if gone else None


def _run_companies_remove(user, p, ctx) -> bool:
    if _plan_companies_remove(user, p, ctx) is None:
        return False
    drop = {c.callrail_id for c in _companies(user.client_account_id, p["companies"])}
    keep = list(
        Company.objects.for_account(user.client_account_id)
        .filter(callrail_id__in=user.company_ids or [])
        .exclude(callrail_id__in=drop)
    )
    user_services.callrail_user_update(user=user, companies=keep, actor=ctx.actor)
    return True


# ------------------------------------------------------------------------------------------ subscriptions
def _notification_fields(account: Any) -> dict[str, forms.Field]:
    return {
        "alert_type": forms.ChoiceField(label="Alert about", choices=ALERT_CHOICES),
        "call_enabled": forms.BooleanField(label="Calls", required=False, initial=True),
        "sms_enabled": forms.BooleanField(label="Text messages", required=False),
        "send_email": forms.BooleanField(label="By email", required=False, initial=True),
    }


def _flags(p: dict) -> dict[str, bool]:
    return {f: bool(p.get(f)) for f in ("call_enabled", "sms_enabled", "send_email")}


def _plan_notify_user(user, p, ctx) -> str | None:
    same = (
        Notification.objects.for_account(user.client_account_id)
        .live()
        .filter(user=user, company__isnull=True, tracker__isnull=True, alert_type=p["alert_type"])
    )
    return None if same.exists() else f"new {p['alert_type']} notification"


def _run_notify_user(user, p, ctx) -> bool:
    if _plan_notify_user(user, p, ctx) is None:
        return False
    notification_services.notification_create(
        account=user.client_account, user=user, alert_type=p["alert_type"], actor=ctx.actor, **_flags(p)
    )
    return True


def _email_field(label: str) -> dict[str, forms.Field]:
    return {"email": forms.EmailField(label=label, max_length=254)}


def _plan_notify_company(company, p, ctx) -> str | None:
    same = (
        Notification.objects.for_account(company.client_account_id)
        .live()
        .filter(email__iexact=p["email"], company=company, tracker__isnull=True)
    )
    return None if same.exists() else f"new notification to {p['email']}"


def _run_notify_company(company, p, ctx) -> bool:
    if _plan_notify_company(company, p, ctx) is None:
        return False
    notification_services.notification_create(
        account=company.client_account, email=p["email"], company=company, alert_type=p["alert_type"],
        actor=ctx.actor, **{**_flags(p), "send_email": True},
    )  # fmt: skip
    return True


def _summary_fields(account: Any) -> dict[str, forms.Field]:
    return {
        "frequency": forms.MultipleChoiceField(
            label="Frequency", choices=FREQUENCY_CHOICES, widget=forms.CheckboxSelectMultiple
        ),
        "config": forms.MultipleChoiceField(
            label="Contents", choices=CONTENT_CHOICES, widget=forms.CheckboxSelectMultiple
        ),
    }


def _config(p: dict) -> dict[str, bool]:
    return {k: k in p["config"] for k in v.SUMMARY_CONFIG_KEYS}


def _plan_summary_user(user, p, ctx) -> str | None:
    same = SummaryEmail.objects.for_account(user.client_account_id).live().filter(user=user, company__isnull=True)
    return None if same.exists() else f"new {'/'.join(p['frequency'])} summary email"


def _run_summary_user(user, p, ctx) -> bool:
    if _plan_summary_user(user, p, ctx) is None:
        return False
    summary_services.summary_email_create(
        account=user.client_account, user=user, frequency=p["frequency"], config=_config(p), actor=ctx.actor
    )
    return True


def _plan_summary_company(company, p, ctx) -> str | None:
    return f"new {'/'.join(p['frequency'])} summary email to {p['email']}"


def _run_summary_company(company, p, ctx) -> bool:
    summary_services.summary_email_create(
        account=company.client_account, email=p["email"], company=company, frequency=p["frequency"],
        config=_config(p), actor=ctx.actor,
    )  # fmt: skip
    return True


# ------------------------------------------------------------------------------------------ copy set-up
def _targets_field(account: Any) -> dict[str, forms.Field]:
    # the choices are filled by the view (the accounts of the agency the person may see, but this one)
    return {
        "targets": forms.MultipleChoiceField(
            label="Copy to client accounts", choices=[], widget=forms.CheckboxSelectMultiple,
            error_messages={"required": "Choose at least one client account."},
        )
    }  # fmt: skip


def _match(model: Any, target: Any, **lookup: Any) -> Any:
    return model.objects.for_account(target).live().filter(**lookup).first()


def _copy_refs(row: Any, target: Any) -> dict[str, Any]:
    """The rows of ``target`` that stand for ``row``'s user, company and tracker (matched by email / name)."""
    refs: dict[str, Any] = {}
    if getattr(row, "user_id", None):
        refs["user"] = _match(CallRailUser, target, email__iexact=row.user.email)
        if refs["user"] is None:
            raise PushRefused(f"{target.name}: no CallRail user {row.user.email}.")
    if getattr(row, "company_id", None):
        refs["company"] = _match(Company, target, name__iexact=row.company.name, status="active")
        if refs["company"] is None:
            raise PushRefused(f"{target.name}: no active company named {row.company.name!r}.")
    if getattr(row, "tracker_id", None):
        refs["tracker"] = _match(Tracker, target, name__iexact=row.tracker.name, status="active")
        if refs["tracker"] is None:
            raise PushRefused(f"{target.name}: no active tracker named {row.tracker.name!r}.")
    return refs


def _plan_copy(row, p, ctx) -> str | None:
    return f"copy to {len(ctx.targets)} account(s)"


def _copy_notification(row: Notification, target: Any, ctx: ActionContext) -> bool:
    refs = _copy_refs(row, target)
    same = Notification.objects.for_account(target).live().filter(
        user=refs.get("user"), email=row.email if not refs.get("user") else None, company=refs.get("company"),
        tracker=refs.get("tracker"), alert_type=row.alert_type,
    )  # fmt: skip
    if same.exists():
        return False
    flags = {f: getattr(row, f) for f in notification_services.FLAGS}
    notification_services.notification_create(
        account=target, email=row.email, alert_type=row.alert_type or None, actor=ctx.actor, **refs, **flags
    )
    return True


def _copy_summary(row: SummaryEmail, target: Any, ctx: ActionContext) -> bool:
    refs = _copy_refs(row, target)
    email = (row.payload or {}).get("email") or None
    if refs.get("user") is None and not email:
        raise PushRefused("This subscription has no user or email to copy.")
    same = SummaryEmail.objects.for_account(target).live().filter(user=refs.get("user"), company=refs.get("company"))
    if refs.get("user") is not None and same.exists():
        return False
    summary_services.summary_email_create(
        account=target, frequency=row.frequency, config=row.config, email=email, actor=ctx.actor, **refs
    )
    return True


# ------------------------------------------------------------------------------------------ text back
def _text_back_fields(account: Any) -> dict[str, forms.Field]:
    from apps.text_conversations.sending import MAX_TEXT_LENGTH

    return {
        "template": forms.CharField(
            label="Text", max_length=400, widget=forms.Textarea(attrs={"rows": 3}),
            help_text=f"{{name}} becomes the lead's first name (or 'there'), {{company}} the company's name. At most "
            f"{MAX_TEXT_LENGTH} characters once filled in (CallRail's limit).",
        ),
    }  # fmt: skip


def _text_back_text(record: Any, p: dict) -> str:
    name = (record.customer_name or "").strip()
    words = name.split()
    if not words or "," in name or any(ch.isdigit() for ch in name):  # none, or caller ID's "CITY, ST"
        first = "there"
    else:  # CallRail's caller ID names are "LAST FIRST" in capitals; a typed name is "First Last"
        first = (words[-1] if name.isupper() else words[0]).title()
    company = record.company.name if record.company_id else ""
    return str(p.get("template") or "").replace("{name}", first).replace("{company}", company).strip()


def _text_back_sender(record: Any) -> str:
    from apps.text_conversations.sending import sms_senders

    if not record.company_id:
        raise PushRefused("This lead belongs to no company in CallRail, so no tracking number can text it.")
    senders = sms_senders(account=record.client_account, company=record.company)
    own = getattr(record, "tracking_phone_number", None)
    for sender in senders:
        if sender.number == own:
            return sender.number
    if not senders:
        raise PushRefused(f"No tracking number of {record.company.name} can send texts.")
    return senders[0].number


def _plan_text_back(record: Any, p: dict, ctx: ActionContext) -> str | None:
    from apps.portal.formatting import format_phone
    from apps.text_conversations.sending import MAX_TEXT_LENGTH, e164_us, opt_out_of

    text = _text_back_text(record, p)
    number = e164_us(record.customer_phone_number)
    if number is None:
        raise PushRefused("No valid US or Canadian number to text.")
    if len(text) > MAX_TEXT_LENGTH:
        raise PushRefused(f"The text would have {len(text)} characters; CallRail takes at most {MAX_TEXT_LENGTH}.")
    opted = opt_out_of(account=record.client_account, number=number)
    if opted is not None:
        raise PushRefused(opted.reason(number, record.client_account))
    return f"Text {format_phone(number)} from {format_phone(_text_back_sender(record))}: “{text}”"


def _run_text_back(record: Any, p: dict, ctx: ActionContext) -> bool:
    from apps.text_conversations.sending import TextRefused, text_send

    _plan_text_back(record, p, ctx)
    source = {"source_call": record} if record._meta.model_name == "call" else {"source_form": record}
    try:
        text_send(account=record.client_account, content=_text_back_text(record, p), actor=ctx.actor,
                  customer_phone_number=record.customer_phone_number or "", tracking_number=_text_back_sender(record),
                  company=record.company, check_budget=False, **source)  # fmt: skip
    except TextRefused as exc:
        raise PushRefused(exc.message, field=exc.field) from exc
    return True


_TEXT_BACK_HELP = ("Each text is one SMS send of the account's CallRail text allowance; texts beyond what is left wait "
                   "in the outbox and go as the allowance frees up, never more.")  # fmt: skip


# ------------------------------------------------------------------------------------------ the registry
# fmt: off
ACTIONS: tuple[BulkAction, ...] = (
    BulkAction("tags_add", "calls", "Add tags", _tags_field, _plan_tags_add, _run_tags_add),
    BulkAction("text_back", "calls", "Text back", _text_back_fields, _plan_text_back, _run_text_back,
               help=_TEXT_BACK_HELP, limit_class="sms_send"),
    BulkAction("text_back", "form_submissions", "Text back", _text_back_fields, _plan_text_back, _run_text_back,
               help=_TEXT_BACK_HELP, limit_class="sms_send"),
    BulkAction("tags_remove", "calls", "Remove tags", _tags_field, _plan_tags_remove, _run_tags_remove),
    BulkAction(
        "lead_status",
        "calls",
        "Set lead status",
        lambda a: {"lead_status": forms.ChoiceField(label="Lead status", choices=LEAD_CHOICES, required=False)},
        _plan_lead,
        _run_lead,
    ),
    BulkAction(
        "spam",
        "calls",
        "Mark as spam",
        _no_fields,
        _plan_spam,
        _run_spam,
        destructive=True,
        help="CallRail's API cannot un-mark spam: this cannot be undone from the portal.",
    ),
    BulkAction(
        "value",
        "calls",
        "Set value",
        lambda a: {"value": MoneyField(label="Value", required=False, max_length=20, help_text="Empty: clear.")},
        _plan_value,
        _run_value,
    ),
    BulkAction(
        "disable",
        "trackers",
        "Disable",
        _no_fields,
        _plan_disable,
        _disable(tracker_services.tracker_disable, "tracker"),
        destructive=True,
        help="A disabled tracker releases its numbers in CallRail.",
    ),
    BulkAction(
        "time_zone",
        "companies",
        "Update time zone",
        lambda a: {"time_zone": TimeZoneField(label="Time zone", max_length=64, help_text="e.g. America/New_York")},
        _plan_time_zone,
        _run_time_zone,
    ),
    BulkAction(
        "disable",
        "companies",
        "Disable",
        _no_fields,
        _plan_disable,
        _disable(company_services.company_disable, "company"),
        destructive=True,
    ),
    BulkAction(
        "notify_email",
        "companies",
        "Create a notification for an email address",
        lambda a: {**_email_field("Email address"), **_notification_fields(a)},
        _plan_notify_company,
        _run_notify_company,
    ),
    BulkAction(
        "summary_email",
        "companies",
        "Create a summary email for an email address",
        lambda a: {**_email_field("Email address"), **_summary_fields(a)},
        _plan_summary_company,
        _run_summary_company,
    ),
    BulkAction(
        "recolour",
        "tags",
        "Recolour",
        lambda a: {"color": forms.ChoiceField(label="Colour", choices=[(c, c) for c in v.TAG_COLORS])},
        _plan_colour,
        _run_colour,
    ),
    BulkAction(
        "delete",
        "tags",
        "Delete",
        _no_fields,
        _plan_delete,
        _delete(tag_services.tag_delete, "tag"),
        destructive=True,
        help="Deleted tags are removed from CallRail.",
    ),
    BulkAction("companies_add", "users", "Add companies", _companies_field, _plan_companies_add, _run_companies_add),
    BulkAction(
        "companies_remove",
        "users",
        "Remove companies",
        _companies_field,
        _plan_companies_remove,
        _run_companies_remove,
    ),
    BulkAction(
        "notify", "users", "Create a notification for each", _notification_fields, _plan_notify_user, _run_notify_user
    ),
    BulkAction(
        "summary", "users", "Create a summary email for each", _summary_fields, _plan_summary_user, _run_summary_user
    ),
    BulkAction(
        "copy",
        "notifications",
        "Copy to other client accounts",
        _targets_field,
        _plan_copy,
        lambda row, p, ctx: _copy_notification(row, ctx.targets[0], ctx),
        copies=True,
        help="Users are matched by email, companies and trackers by name, in each target account.",
    ),
    BulkAction(
        "delete",
        "notifications",
        "Delete",
        _no_fields,
        _plan_delete,
        _delete(notification_services.notification_delete, "notification"),
        destructive=True,
    ),
    BulkAction(
        "copy",
        "summary_emails",
        "Copy to other client accounts",
        _targets_field,
        _plan_copy,
        lambda row, p, ctx: _copy_summary(row, ctx.targets[0], ctx),
        copies=True,
        help="Users are matched by email, companies by name, in each target account.",
    ),
    BulkAction(
        "delete",
        "summary_emails",
        "Delete",
        _no_fields,
        _plan_delete,
        _delete(summary_services.summary_email_delete, "summary_email"),
        destructive=True,
    ),
)
# fmt: on

#: Why an action someone may look for is missing.
NOT_POSSIBLE = {
    "users": "Changing a user's role is not possible through CallRail's API; change it in CallRail.",
    "calls": "Un-marking spam is not possible through CallRail's API.",
}


def actions_for(resource: str) -> list[BulkAction]:
    return [a for a in ACTIONS if a.resource == resource]


def get_action(resource: str, name: str) -> BulkAction | None:
    return next((a for a in ACTIONS if a.resource == resource and a.name == name), None)
