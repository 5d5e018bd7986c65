"""Write services of CallRail summary email subscriptions (create, update, delete) through the push outbox."""

from __future__ import annotations

from typing import Any

from apps.push import validation as v
from apps.push.services import PushRefused, mirror_row_create, mirror_row_delete, mirror_row_update

from .models import SummaryEmail


def _frequency(values: Any) -> list[str]:
    values = [values] if isinstance(values, str) else list(values or [])
    if not values:
        raise PushRefused("Choose at least one frequency (daily, weekly, monthly).", field="frequency")
    for value in values:
        v.choice(value, v.FREQUENCIES, "frequency")
    return list(dict.fromkeys(values))


def _config(config: Any, base: dict | None = None) -> dict[str, bool]:
    if not isinstance(config, dict) or not set(config) & set(v.SUMMARY_CONFIG_KEYS):
        raise PushRefused(f"Choose what the email contains: {', '.join(v.SUMMARY_CONFIG_KEYS)}.", field="config")
    unknown = set(config) - set(v.SUMMARY_CONFIG_KEYS)
    if unknown:
        raise PushRefused(f"Unknown content: {', '.join(sorted(unknown))}.", field="config")
    out = dict(base or dict.fromkeys(v.SUMMARY_CONFIG_KEYS, False))
    out.update({k: bool(val) for k, val in config.items()})
    return out


def summary_email_create(
    *, account: Any, frequency: Any, config: dict, user: Any = None, email: str | None = None, company: Any = None,
    actor: Any = None,
) -> SummaryEmail:  # fmt: skip
    frequency = _frequency(frequency)
    config = _config(config)
    if user is None and not email:
        raise PushRefused("A summary email needs a CallRail user or an email address.", field="user")
    v.same_account(account, user, "user")
    v.same_account(account, company, "company")
    payload = {}
    if user is None:
        payload["email"] = v.email(email)
        if company is None:
            raise PushRefused("Email-only recipients need a company.", field="company")
    row = SummaryEmail(client_account=account, user=user, company=company, frequency=frequency, config=config,
                       scope_type="Company" if company else "Account")  # fmt: skip
    row.payload = payload
    return mirror_row_create(row=row, resource="summary_emails", actor=actor)


def summary_email_update(
    *, summary_email: SummaryEmail, frequency: Any = None, config: dict | None = None, actor: Any = None
) -> SummaryEmail:
    summary_email = SummaryEmail.objects.for_account(summary_email.client_account_id).get(pk=summary_email.pk)
    values: dict[str, Any] = {}
    if frequency is not None:
        values["frequency"] = _frequency(frequency)
    if config is not None:
        values["config"] = _config(config, summary_email.config)
    return mirror_row_update(row=summary_email, resource="summary_emails", values=values, actor=actor)


def summary_email_delete(*, summary_email: SummaryEmail, actor: Any = None) -> SummaryEmail | None:
    return mirror_row_delete(row=summary_email, resource="summary_emails", actor=actor)
