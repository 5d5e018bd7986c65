"""Writes of portal summaries: subscriptions and recipients, dispatching due summaries, sending, unsubscribing.

At most once per (summary, address, period): the dispatcher creates one ``SummaryDelivery`` per address and
period (a unique constraint makes a second dispatcher — beat firing twice, two beat processes — find the
same row instead of a new one), and a send first *claims* its delivery with one conditional UPDATE
(pending → sending). Only the claimant talks to the mail server; everyone else sees zero rows updated and
stops. A worker that dies after claiming leaves the delivery ``sending``; the dispatcher later marks it
``interrupted`` rather than risk a second copy.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.calls.reports import Period
from apps.tenancy.models import ClientAccount, User
from apps.tenancy.policy import Can, allows

from .emails import portal_url, summary_build, summary_message
from .models import CLAIMABLE, DeliveryStatus, PortalSummary, SummaryDelivery, SummaryRecipient
from .schedule import latest_occurrence, summary_time_zone
from .selectors import portal_user_for_address, summary_reader_problem

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "summaries.unsubscribe"
MAX_RECIPIENTS = 50


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


# --- subscriptions -----------------------------------------------------------------------------------------


def email_addresses_parse(raw: str) -> tuple[list[str], list[str]]:
    """Split staff input (commas, semicolons, spaces, new lines) into valid addresses and error messages."""
    valid: list[str] = []
    errors: list[str] = []
    for token in raw.replace(",", " ").replace(";", " ").split():
        address = token.strip().strip("<>").strip()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            reason = "it has no @" if "@" not in address else "it is not of the form name@domain.tld"
            errors.append(f"“{address}” is not a valid email address: {reason}.")
            continue
        if address.lower() not in {v.lower() for v in valid}:
            valid.append(address)
    return valid, errors


def _summary_state(summary: PortalSummary) -> dict[str, Any]:
    return {
        "company": summary.company.callrail_id if summary.company_id else None,
        "frequency": summary.frequency,
        "weekday": summary.weekday,
        "hour": summary.hour,
        "send_when_empty": summary.send_when_empty,
        "is_active": summary.is_active,
        "recipients": sorted(summary.recipients.values_list("email", flat=True)),
    }


@transaction.atomic
def summary_save(
    *,
    account: ClientAccount,
    actor: User | None,
    instance: PortalSummary | None = None,
    company: Any = None,
    frequency: str,
    weekday: int = 0,
    hour: int = 7,
    send_when_empty: bool = True,
    is_active: bool = True,
    users: list[User] | tuple = (),
    emails: list[str] | tuple = (),
) -> PortalSummary:
    """Create or update a summary and its recipient list (client users plus extra addresses)."""
    addresses: dict[str, User | None] = {}
    for user in users:
        addresses.setdefault(user.email.lower(), user)
    bad = []
    for address in emails:
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
            continue
        addresses.setdefault(address.lower(), None)
    if bad:
        raise ValidationError(f"Not valid email addresses: {', '.join(bad)}")
    if not addresses:
        raise ValidationError("Add at least one recipient: a client user or an email address.")
    if len(addresses) > MAX_RECIPIENTS:
        raise ValidationError(f"A summary can have at most {MAX_RECIPIENTS} recipients.")
    if company is not None and company.client_account_id != account.pk:
        raise ValidationError("That company belongs to another account.")
    if not 0 <= int(hour) <= 23 or not 0 <= int(weekday) <= 6:
        raise ValidationError("Choose an hour from 0 to 23 and a weekday.")
    before = _summary_state(instance) if instance else {}
    summary = instance or PortalSummary(client_account=account, created_by=actor)
    summary.company = company
    summary.frequency = frequency
    summary.weekday = int(weekday)
    summary.hour = int(hour)
    summary.send_when_empty = send_when_empty
    summary.is_active = is_active
    summary.full_clean()
    summary.save()
    _check_readers(summary=summary, addresses=addresses)
    existing = {r.email.lower(): r for r in summary.recipients.all()}
    for key, recipient in existing.items():
        if key not in addresses:
            recipient.delete()
    for key, user in addresses.items():
        recipient = existing.get(key)
        if recipient is None:
            address = user.email if user else next(e for e in emails if e.lower() == key)
            SummaryRecipient.objects.create(client_account=account, summary=summary, user=user, email=address)
        elif user is not None and recipient.user_id != user.pk:
            recipient.user = user
            recipient.save(update_fields=["user"])
    audit_record(
        agency=account.agency,
        client_account=account,
        actor=actor,
        obj=summary,
        action="summary.update" if instance else "summary.create",
        before=before,
        after=_summary_state(summary),
    )
    return summary


def _check_readers(*, summary: PortalSummary, addresses: dict[str, User | None]) -> None:
    """Every person among the recipients could open this summary in the portal (company limits included)."""
    problems = []
    for address, user in addresses.items():
        user = user or portal_user_for_address(email=address, account=summary.client_account)
        problem = summary_reader_problem(user=user, summary=summary) if user is not None else None
        if problem:
            problems.append(problem)
    if problems:
        raise ValidationError(problems)


@transaction.atomic
def summary_delete(*, summary: PortalSummary, actor: User | None) -> None:
    account = summary.client_account
    audit_record(
        agency=account.agency,
        client_account=account,
        actor=actor,
        obj=summary,
        action="summary.delete",
        before=_summary_state(summary),
    )
    summary.delete()


# --- unsubscribe -------------------------------------------------------------------------------------------


def unsubscribe_token(recipient: SummaryRecipient) -> str:
    data = {"a": recipient.client_account_id, "r": recipient.pk, "e": recipient.email.lower()}
    return signing.dumps(data, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(recipient: SummaryRecipient | None) -> str:
    """The recipient's signed one-click unsubscribe link (a placeholder for test sends and previews)."""
    if recipient is None or recipient.pk is None:
        return portal_url(reverse("summaries:unsubscribe", kwargs={"token": "preview"}))
    return portal_url(reverse("summaries:unsubscribe", kwargs={"token": unsubscribe_token(recipient)}))


def recipient_for_token(*, token: str) -> SummaryRecipient | None:
    """The recipient a signed token names, or None for a tampered, foreign or stale token."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in ("a", "r")):
        return None
    # The signature is the authorisation: the token names exactly one account and one recipient in it.
    recipient = (
        SummaryRecipient.objects.for_account(data["a"])
        .select_related("summary", "summary__company", "client_account__agency")
        .filter(pk=data["r"])
        .first()
    )
    if recipient is None or recipient.email.lower() != data.get("e"):
        return None
    return recipient


@transaction.atomic
def recipient_unsubscribe(*, recipient: SummaryRecipient) -> bool:
    """Stop sending to this address; True if it was subscribed until now."""
    changed = (
        SummaryRecipient.objects.for_account(recipient.client_account_id)
        .filter(pk=recipient.pk, unsubscribed_at__isnull=True)
        .update(unsubscribed_at=timezone.now())
    )
    if changed:
        account = recipient.client_account
        audit_record(
            agency=account.agency,
            client_account=account,
            obj=recipient,
            action="summary.unsubscribe",
            after={"email": recipient.email, "summary": recipient.summary_id},
            via=AuditEvent.Via.WEB,
        )
    recipient.refresh_from_db()
    return bool(changed)


@transaction.atomic
def summary_self_subscription_set(*, summary: PortalSummary, user: User, subscribed: bool) -> SummaryRecipient | None:
    """A person subscribes to, or leaves, a summary of an account they see (clients only when their agency
    lets clients manage their own summary emails)."""
    account = ClientAccount.objects.for_account(summary.client_account_id).select_related("agency").get()
    if not PortalSummary.objects.visible_to(user, account.agency).filter(pk=summary.pk).exists():
        raise PermissionDenied("You do not receive this account's summaries.")
    if not allows(user, Can.OWN_SUMMARIES, account.agency):
        raise PermissionDenied(f"{account.agency.name} manages your summary emails for you.")
    recipients = SummaryRecipient.objects.for_account(account)
    recipient = recipients.filter(summary=summary, email__iexact=user.email).first()
    if subscribed:
        if recipient is None:
            recipient = SummaryRecipient.objects.create(
                client_account=account, summary=summary, user=user, email=user.email.lower()
            )
        elif recipient.unsubscribed_at is not None:
            recipients.filter(pk=recipient.pk).update(unsubscribed_at=None)
    elif recipient is not None and recipient.unsubscribed_at is None:
        recipients.filter(pk=recipient.pk).update(unsubscribed_at=timezone.now())
    audit_record(
        agency=account.agency,
        client_account=account,
        obj=summary,
        actor=user,
        action="summary.subscribe" if subscribed else "summary.unsubscribe",
        after={"email": user.email},
    )
    return recipient


# --- dispatching -------------------------------------------------------------------------------------------


def _enqueue(delivery: SummaryDelivery) -> None:
    from .tasks import summary_send_task

    account_id, delivery_id = delivery.client_account_id, delivery.pk
    transaction.on_commit(lambda: summary_send_task.delay(client_account_id=account_id, delivery_id=delivery_id))


def summary_dispatch(*, now: datetime | None = None) -> list[int]:
    """Create the deliveries of every summary whose send time has come, and queue them. Safe to run twice."""
    now = now or timezone.now()
    catch_up = timedelta(hours=float(setting("SUMMARY_CATCH_UP_HOURS", 20)))
    stale_before = now - timedelta(minutes=float(setting("SUMMARY_SENDING_STALE_MINUTES", 15)))
    interrupted = (
        SummaryDelivery.objects.unscoped(reason="beat-dispatch")
        .filter(status=DeliveryStatus.SENDING, claimed_at__lt=stale_before)
        .update(
            status=DeliveryStatus.INTERRUPTED,
            finished_at=now,
            error="The worker stopped while sending; not sent again, so the address never gets two copies.",
        )
    )
    if interrupted:
        logger.warning("summaries: %s deliveries interrupted while sending", interrupted)
    queued: list[int] = []
    summaries = (
        PortalSummary.objects.unscoped(reason="beat-dispatch")
        .filter(is_active=True, client_account__agency__is_active=True)
        .select_related("client_account__agency", "company")
    )
    for summary in summaries:
        instant, period = latest_occurrence(summary, now)
        if instant < summary.created_at or now - instant > catch_up:
            continue
        for recipient in summary.recipients.filter(unsubscribed_at__isnull=True):
            delivery = delivery_for_period(summary=summary, recipient=recipient, period=period)
            if delivery.status == DeliveryStatus.PENDING:
                with transaction.atomic():
                    _enqueue(delivery)
                queued.append(delivery.pk)
    return queued


def delivery_for_period(*, summary: PortalSummary, recipient: SummaryRecipient, period: Period) -> SummaryDelivery:
    """The one delivery of this summary to this address for this period (created if it does not exist)."""
    scoped = SummaryDelivery.objects.for_account(summary.client_account_id)
    key = {"summary": summary, "email": recipient.email, "period_start": period.start, "period_end": period.end}
    try:
        with transaction.atomic():
            delivery, _created = scoped.get_or_create(
                **key,
                is_test=False,
                defaults={
                    "client_account_id": summary.client_account_id,
                    "recipient": recipient,
                    "time_zone": period.tz_name,
                },
            )
    except IntegrityError:  # a concurrent dispatcher inserted it between our SELECT and INSERT
        delivery = scoped.get(**key, is_test=False)
    return delivery


@transaction.atomic
def summary_send_test(*, summary: PortalSummary, user: User, period: Period | None = None) -> SummaryDelivery:
    """Queue a test of this summary to the staff member, for the latest complete period."""
    if period is None:
        _instant, period = latest_occurrence(summary, timezone.now())
    delivery = SummaryDelivery.objects.create(
        client_account_id=summary.client_account_id,
        summary=summary,
        recipient=None,
        email=user.email,
        period_start=period.start,
        period_end=period.end,
        time_zone=period.tz_name,
        is_test=True,
        requested_by=user,
    )
    _enqueue(delivery)
    return delivery


# --- sending -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendOutcome:
    status: str
    retry_in: float | None = None


def _reader_problem(recipient: SummaryRecipient, summary: PortalSummary) -> str | None:
    """Why a recipient who is one of the agency's members may no longer receive this summary (deactivated,
    lost the account, or sees only other companies); None for them and for outside addresses."""
    user = recipient.user or portal_user_for_address(email=recipient.email, account=summary.client_account)
    if recipient.user_id is None and user is None:
        return None
    return summary_reader_problem(user=user, summary=summary)


def _finish(delivery: SummaryDelivery, status: str, **fields: Any) -> SendOutcome:
    fields.setdefault("finished_at", timezone.now())
    SummaryDelivery.objects.for_account(delivery.client_account_id).filter(pk=delivery.pk).update(
        status=status, **fields
    )
    return SendOutcome(status)


def _record_refusal(delivery: SummaryDelivery, message: str) -> None:
    if delivery.recipient_id:
        SummaryRecipient.objects.for_account(delivery.client_account_id).filter(pk=delivery.recipient_id).update(
            last_error=message[:2000], last_error_at=timezone.now()
        )


def _smtp_refusal(exc: Exception, address: str) -> tuple[bool, str]:
    """(permanent?, message) of an SMTP error; 5xx answers are permanent, everything else is worth a retry."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (0, b""))
        text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        return 500 <= int(code) < 600, f"{code} {text} (recipient {address} refused)"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return 500 <= int(exc.smtp_code) < 600, f"{exc.smtp_code} {text}"
    return False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def delivery_send(*, account_id: int, delivery_id: int, now: datetime | None = None) -> SendOutcome:
    """Claim one delivery and send it; the claim (one conditional UPDATE) makes this at most once."""
    now = now or timezone.now()
    scoped = SummaryDelivery.objects.for_account(account_id)
    claimed = scoped.filter(pk=delivery_id, status__in=CLAIMABLE).update(
        status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return SendOutcome("not-claimed")
    delivery = scoped.select_related("summary__client_account__agency", "summary__company", "recipient").get(
        pk=delivery_id
    )
    summary, recipient = delivery.summary, delivery.recipient
    if summary is None:
        return _finish(delivery, DeliveryStatus.SKIPPED, error="The summary was deleted before it was sent.")
    if not delivery.is_test:
        if not summary.is_active:
            return _finish(delivery, DeliveryStatus.SKIPPED, error="The summary was paused before it was sent.")
        if recipient is None or recipient.unsubscribed_at is not None:
            return _finish(delivery, DeliveryStatus.SKIPPED, error="The recipient unsubscribed or was removed.")
        problem = _reader_problem(recipient, summary)
        if problem:
            return _finish(delivery, DeliveryStatus.SKIPPED, error=problem)
    period = Period(delivery.period_start, delivery.period_end, delivery.time_zone or summary_time_zone(summary))
    link = unsubscribe_url(recipient)
    try:
        built = summary_build(summary=summary, period=period, unsubscribe_url=link)
    except Exception as exc:  # a bug or bad data: record it for staff, do not retry forever
        logger.exception("summaries: building delivery %s failed", delivery_id)
        return _finish(delivery, DeliveryStatus.FAILED, error=f"Could not build the email: {exc}")
    fields = {"subject": built.subject[:255], "total_calls": built.report.totals.total_calls}
    if built.report.is_empty and not summary.send_when_empty and not delivery.is_test:
        return _finish(delivery, DeliveryStatus.SKIPPED, error="No calls in the period.", **fields)
    agency = summary.client_account.agency
    message = summary_message(built, to=delivery.email, agency_name=agency.name, unsubscribe_url=link)
    try:
        message.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        permanent, text = _smtp_refusal(exc, delivery.email)
        attempts = delivery.attempts
        max_attempts = int(setting("SUMMARY_MAX_ATTEMPTS", 5))
        logger.warning(
            "summaries: delivery %s to %s failed (attempt %s): %s", delivery_id, delivery.email, attempts, text
        )
        if permanent:
            _record_refusal(delivery, text)
            return _finish(delivery, DeliveryStatus.REFUSED, error=text, **fields)
        if attempts >= max_attempts:
            _record_refusal(delivery, text)
            return _finish(
                delivery, DeliveryStatus.FAILED, error=f"Gave up after {attempts} attempts: {text}", **fields
            )
        _finish(delivery, DeliveryStatus.RETRYING, error=text, finished_at=None, **fields)
        base = float(setting("SUMMARY_RETRY_BASE_SECONDS", 60))
        return SendOutcome(DeliveryStatus.RETRYING, retry_in=min(base * 2 ** (attempts - 1), 3600))
    if recipient is not None and recipient.last_error:
        SummaryRecipient.objects.for_account(account_id).filter(pk=recipient.pk).update(last_error="")
    return _finish(delivery, DeliveryStatus.SENT, error="", **fields)
