"""The agency's own branded summary emails, built from the call mirror (not CallRail's summary emails).

PortalSummary ──< SummaryRecipient      who receives it (a client user or any address staff added)
PortalSummary ──< SummaryDelivery       one row per (recipient address, period): the idempotency record
                                        that makes each send happen at most once, and the send log
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models

from apps.tenancy.models import TenantOwnedModel


class Frequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class PortalSummary(TenantOwnedModel):
    """A branded summary of one client account (or one of its companies), sent on a schedule."""

    tenancy_company_field = "company"
    # A whole-account summary lists every company's calls: never shown, offered or sent to a client who
    # sees only some companies (they receive summaries of their own companies).
    tenancy_companyless_covers_all = True

    company = models.ForeignKey(
        "companies.Company",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Leave empty for the whole account.",
    )
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.WEEKLY)
    weekday = models.PositiveSmallIntegerField(
        choices=Weekday.choices, default=Weekday.MONDAY, help_text="Weekly summaries: the day they are sent."
    )
    hour = models.PositiveSmallIntegerField(
        default=7, validators=[MaxValueValidator(23)], help_text="Local hour (0–23) in the summary's time zone."
    )
    send_when_empty = models.BooleanField(
        "send when there were no calls",
        default=True,
        help_text='Send a short "no calls" email for a period without calls (otherwise skip it).',
    )
    is_active = models.BooleanField("active", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["client_account", "company__name", "frequency", "pk"]
        verbose_name = "portal summary"
        verbose_name_plural = "portal summaries"

    def __str__(self) -> str:
        scope = self.company.name if self.company_id and self.company else "whole account"
        return f"{self.get_frequency_display()} summary ({scope})"

    @property
    def schedule_label(self) -> str:
        hour = time(self.hour).strftime("%-I:%M %p")  # the portal's clock format: 7:00 AM
        if self.frequency == Frequency.DAILY:
            return f"Every day at {hour}"
        if self.frequency == Frequency.WEEKLY:
            return f"Every {Weekday(self.weekday).label} at {hour}"
        return f"On the 1st of every month at {hour}"


class SummaryRecipient(TenantOwnedModel):
    """One address a summary goes to. Unsubscribing and SMTP refusals are recorded here."""

    summary = models.ForeignKey(PortalSummary, on_delete=models.CASCADE, related_name="recipients")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The client user this address belongs to, if any.",
    )
    email = models.EmailField()
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="The mail server's last refusal of this address.")
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(fields=["summary", "email"], name="summary_recipient_unique_email")]

    def __str__(self) -> str:
        return self.email

    @property
    def is_active(self) -> bool:
        return self.unsubscribed_at is None


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Waiting to retry"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Skipped (no calls)"
    REFUSED = "refused", "Refused by the mail server"
    FAILED = "failed", "Failed"
    INTERRUPTED = "interrupted", "Interrupted"


CLAIMABLE = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
FINAL = (
    DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.REFUSED, DeliveryStatus.FAILED,
    DeliveryStatus.INTERRUPTED,
)  # fmt: skip


class SummaryDelivery(TenantOwnedModel):
    """One summary for one address and one period: created once (unique), claimed once, sent at most once."""

    summary = models.ForeignKey(PortalSummary, null=True, on_delete=models.SET_NULL, related_name="deliveries")
    recipient = models.ForeignKey(SummaryRecipient, null=True, on_delete=models.SET_NULL, related_name="deliveries")
    email = models.EmailField()
    period_start = models.DateField()
    period_end = models.DateField()
    time_zone = models.CharField(max_length=64)
    is_test = models.BooleanField(default=False, help_text='A "send me a test" from staff.')
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    subject = models.CharField(max_length=255, blank=True)
    total_calls = models.IntegerField(null=True, blank=True, help_text="Calls in the period, as sent.")
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["summary", "email", "period_start", "period_end"],
                condition=models.Q(is_test=False),
                name="summary_delivery_once_per_period",
            )
        ]
        indexes = [
            models.Index(fields=["client_account", "-created_at"], name="summary_delivery_recent"),
            models.Index(fields=["status", "created_at"], name="summary_delivery_status"),
        ]

    def __str__(self) -> str:
        return f"{self.email} {self.period_start}–{self.period_end} ({self.get_status_display()})"
