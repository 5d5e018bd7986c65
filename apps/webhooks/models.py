"""Webhook endpoints (one unguessable URL token per account), company signing keys, and the event log."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.fields import EncryptedTextField, mask_secret
from apps.tenancy.models import TenantOwnedModel

from .events import EVENT_TYPES


def new_token() -> str:
    """256 random bits, URL-safe: the account's part of every webhook URL (never its id)."""
    return secrets.token_urlsafe(32)


class WebhookEndpoint(TenantOwnedModel):
    """The account's receiving address: ``/hooks/<token>/<event>/``."""

    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client_account"], name="webhookendpoint_one_per_account")]

    def __str__(self) -> str:
        return f"webhook endpoint of account {self.client_account_id}"


class WebhookSigningKey(TenantOwnedModel):
    """A company's webhook signing key, as CallRail shows it in its Webhooks settings. Stored encrypted."""

    tenancy_company_field = "company"

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    company_callrail_id = models.CharField(max_length=64, editable=False)
    company_numeric_id = models.CharField(
        max_length=20, blank=True, editable=False,
        help_text="The company's legacy numeric id, as its webhooks name it (from its swap.js URL or learned).",
    )  # fmt: skip
    signing_key = EncryptedTextField(help_text="The company's signing key from CallRail. Stored encrypted.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client_account", "company"], name="webhookkey_one_per_company")]

    def __str__(self) -> str:
        return f"signing key of {self.company_callrail_id}"

    @property
    def masked(self) -> str:
        return mask_secret(self.signing_key)


class EventStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    VERIFIED = "verified", "Verified, queued"
    REJECTED = "rejected", "Rejected"
    APPLIED = "applied", "Applied"
    IGNORED = "ignored", "Nothing to apply"
    DUPLICATE = "duplicate", "Duplicate"
    FAILED = "failed", "Failed to apply"


#: Events CallRail really sent us (signature good): what webhook health is judged on.
ACCEPTED_STATUSES = (EventStatus.VERIFIED, EventStatus.APPLIED, EventStatus.IGNORED, EventStatus.DUPLICATE,
                     EventStatus.FAILED)  # fmt: skip


class WebhookEvent(TenantOwnedModel):
    """One delivery to an account's endpoint. A verified delivery keeps its raw body; a refused one keeps only
    its size, the SHA-256 of its body, the reason and the time (anyone who knows the URL can post to it).

    ``dedupe_key`` (a hash of event type and raw body) is set on verified deliveries only and unique per
    account, so the same event delivered twice is applied once, even when both arrive at the same moment.
    """

    tenancy_company_field = "company"

    event_type = models.CharField(max_length=32, choices=[(e.slug, e.label) for e in EVENT_TYPES])
    status = models.CharField(max_length=10, choices=EventStatus.choices, default=EventStatus.RECEIVED)
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was rejected, ignored or failed.")
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    source_address = models.GenericIPAddressField(null=True, blank=True)
    signature = models.CharField(max_length=200, blank=True)
    raw_body = models.TextField(blank=True)
    body_bytes = models.PositiveIntegerField(default=0)
    body_sha256 = models.CharField(max_length=64, blank=True)
    company = models.ForeignKey("companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    record_id = models.CharField("CallRail id", max_length=64, blank=True)
    legacy_id = models.CharField(
        "Legacy id", max_length=64, blank=True, help_text="The numeric id the payload named the record by."
    )
    payload_timestamp = models.DateTimeField(null=True, blank=True)
    changes = models.JSONField(default=list, blank=True, help_text="Call modified: the fields that changed.")
    dedupe_key = models.CharField(max_length=64, null=True, blank=True, editable=False)
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    result = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["client_account", "dedupe_key"], name="webhookevent_unique_delivery")
        ]
        indexes = [
            models.Index(fields=["client_account", "received_at"], name="webhookevent_account_time"),
            models.Index(fields=["client_account", "record_id"], name="webhookevent_account_record"),
            # the sweeper's: accepted deliveries not applied yet (few at any time)
            models.Index(fields=["received_at"], name="webhookevent_verified", condition=models.Q(status="verified")),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_type_display()} #{self.pk} ({self.get_status_display()})"

    @property
    def is_call(self) -> bool:
        from .events import CALL_EVENTS

        return self.event_type in CALL_EVENTS


class WebhookRecord(TenantOwnedModel):
    """What the receiver knows of one mirrored record beyond the event log (which is pruned): its legacy
    numeric id (webhooks name calls and form submissions by it) and the delivery last applied to it, so that
    a delivery replayed after the log forgot the original still cannot move the record backwards."""

    resource = models.CharField(max_length=40)
    callrail_id = models.CharField("CallRail id", max_length=64)
    legacy_id = models.CharField(max_length=64, blank=True)
    order_at = models.DateTimeField(null=True, blank=True, help_text="The data time of the last applied delivery.")
    stage = models.PositiveSmallIntegerField(default=0, help_text="Its stage (pre-call < routed < finished).")
    changes = models.JSONField(default=list, blank=True, help_text="Its ``changes``.")
    applied_at = models.DateTimeField(null=True, blank=True)
    row_changed_at = models.DateTimeField(
        null=True, blank=True, help_text="The mirrored row's changed_at right after: a later one is a pull's."
    )
    event = models.ForeignKey(WebhookEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client_account", "resource", "callrail_id"], name="webhookrecord_unique")
        ]
        indexes = [models.Index(fields=["client_account", "resource", "legacy_id"], name="webhookrecord_legacy")]

    def __str__(self) -> str:
        return f"{self.resource} {self.callrail_id}"
