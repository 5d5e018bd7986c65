"""Write services of CallRail notifications (create, update, delete) through the push outbox."""

from __future__ import annotations

from typing import Any

from apps.push import validation as v
from apps.push.services import PushRefused, mirror_row_create, mirror_row_delete, mirror_row_update

from .models import Notification

FLAGS = ("call_enabled", "sms_enabled", "send_email", "send_push", "send_desktop")


def _check(*, email: str | None, company: Any, tracker: Any, alert_type: str | None, flags: dict) -> None:
    if tracker is not None and company is not None and tracker.company_id != company.pk:
        raise PushRefused("That tracker does not belong to that company.", field="tracker")
    if alert_type is not None:
        v.choice(alert_type, v.ALERT_TYPES, "alert_type")
    if flags.get("call_enabled") and not alert_type:
        raise PushRefused("Choose which calls to be alerted about (alert type).", field="alert_type")
    if email and (flags.get("send_push") or flags.get("send_desktop")):
        raise PushRefused("Email-only recipients can only get email alerts.", field="send_push")


def notification_create(
    *, account: Any, user: Any = None, email: str | None = None, company: Any = None, tracker: Any = None,
    alert_type: str | None = None, actor: Any = None, **flags: bool,
) -> Notification:  # fmt: skip
    unknown = set(flags) - set(FLAGS)
    if unknown:
        raise PushRefused(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    if user is None and not email:
        raise PushRefused("A notification needs a CallRail user or an email address.", field="user")
    if user is not None:
        v.same_account(account, user, "user")
        email = None
    else:
        email = v.email(email)
        if company is None and tracker is None:
            raise PushRefused("Email-only recipients need a company or a tracker.", field="company")
    v.same_account(account, company, "company")
    v.same_account(account, tracker, "tracker")
    if tracker is not None and company is None:
        company = tracker.company
    _check(email=email, company=company, tracker=tracker, alert_type=alert_type, flags=flags)
    row = Notification(client_account=account, user=user, email=email, company=company, tracker=tracker,
                       alert_type=alert_type or "", **{f: bool(flags.get(f, False)) for f in FLAGS})  # fmt: skip
    return mirror_row_create(row=row, resource="notifications", actor=actor)


def notification_update(
    *, notification: Notification, alert_type: str | None = None, company: Any = ..., tracker: Any = ...,
    actor: Any = None, **flags: bool,
) -> Notification:  # fmt: skip
    unknown = set(flags) - set(FLAGS)
    if unknown:
        raise PushRefused(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    notification = Notification.objects.for_account(notification.client_account_id).get(pk=notification.pk)
    values: dict[str, Any] = {f: bool(val) for f, val in flags.items()}
    if alert_type is not None:
        values["alert_type"] = alert_type
    account = notification.client_account_id
    if company is not ...:
        v.same_account(account, company, "company")
        values["company"] = company
    if tracker is not ...:
        v.same_account(account, tracker, "tracker")
        values["tracker"] = tracker
        if tracker is not None and company is ...:
            values["company"] = tracker.company
    merged = {f: values.get(f, getattr(notification, f)) for f in FLAGS}
    _check(
        email=notification.email, company=values.get("company", notification.company),
        tracker=values.get("tracker", notification.tracker),
        alert_type=values.get("alert_type", notification.alert_type) or None, flags=merged,
    )  # fmt: skip
    return mirror_row_update(row=notification, resource="notifications", values=values, actor=actor)


def notification_delete(*, notification: Notification, actor: Any = None) -> Notification | None:
    return mirror_row_delete(row=notification, resource="notifications", actor=actor)
