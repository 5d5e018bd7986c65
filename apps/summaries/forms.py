"""The summary subscription form: schedule, scope and recipients (client users and typed addresses)."""

from __future__ import annotations

from django import forms

from apps.tenancy.models import ClientAccount

from .models import Frequency, PortalSummary, Weekday
from .selectors import account_client_company_limits, account_client_users, account_companies
from .services import MAX_RECIPIENTS, email_addresses_parse

HOURS = [(h, f"{h:02d}:00") for h in range(24)]


class PortalSummaryForm(forms.Form):
    company = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Whole account",
        help_text="A company's summary uses the company's time zone.",
    )
    frequency = forms.ChoiceField(choices=Frequency.choices, initial=Frequency.WEEKLY)
    weekday = forms.TypedChoiceField(
        choices=Weekday.choices,
        coerce=int,
        initial=Weekday.MONDAY,
        label="Day (weekly)",
        help_text="Weekly summaries cover the 7 days before this day.",
    )
    hour = forms.TypedChoiceField(
        choices=HOURS,
        coerce=int,
        initial=7,
        label="Send at",
        help_text="Local time of the account (or company).",
    )
    users = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple, label="Client users"
    )
    emails = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Other email addresses",
        help_text="One or more addresses, separated by commas or new lines.",
    )
    send_when_empty = forms.BooleanField(
        required=False,
        initial=True,
        label='Send a "no calls" email when the period had no calls',
        help_text="Untick to skip periods without calls.",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args, account: ClientAccount, instance: PortalSummary | None = None, **kwargs) -> None:
        if instance is not None:
            recipients = list(instance.recipients.all())
            kwargs["initial"] = {
                "company": instance.company_id,
                "frequency": instance.frequency,
                "weekday": instance.weekday,
                "hour": instance.hour,
                "send_when_empty": instance.send_when_empty,
                "is_active": instance.is_active,
                "users": [r.user_id for r in recipients if r.user_id],
                "emails": "\n".join(r.email for r in recipients if not r.user_id),
                **(kwargs.get("initial") or {}),
            }
        super().__init__(*args, **kwargs)
        self.account = account
        self.fields["company"].queryset = account_companies(account=account)
        self.fields["users"].queryset = account_client_users(account=account)
        limits = account_client_company_limits(account=account)
        self.fields["users"].label_from_instance = lambda u: f"{u.get_full_name()} <{u.email}>" + (
            f" — sees only {', '.join(limits[u.pk])}: their companies' summaries only" if u.pk in limits else ""
        )
        if not self.fields["users"].queryset.exists():
            self.fields["users"].help_text = "This account has no client users yet: add addresses below."

    def clean_emails(self) -> list[str]:
        valid, errors = email_addresses_parse(self.cleaned_data.get("emails") or "")
        if errors:
            raise forms.ValidationError(errors)
        return valid

    def clean(self):
        data = super().clean()
        users = list(data.get("users") or [])
        emails = data.get("emails") or []
        if "emails" in data and "users" in data and not users and not emails:
            raise forms.ValidationError("Add at least one recipient: tick a client user or type an address.")
        if len({u.email.lower() for u in users} | {e.lower() for e in emails}) > MAX_RECIPIENTS:
            raise forms.ValidationError(f"A summary can have at most {MAX_RECIPIENTS} recipients.")
        return data
