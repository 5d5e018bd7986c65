"""Credentials: how an agency reaches CallRail, held once and shared by the client accounts they serve.

Agency ──< Credential ──< ClientAccount
               └──< GatewayConnection ──< ClientAccount (gateway credentials)

A credential is a direct CallRail API key, or a key of the managed-OAuth gateway with its connections (one
per CallRail login its owner authorised). Its destination — the authentication mode and the API base URL —
is fixed with its key: the key is only ever sent there (``apps/callrail/destinations.py``), and changing
the base URL means entering the key again. Keys are encrypted at rest, never rendered in full, and every
change is audited without the key itself.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models

from apps.callrail.budget import Scope, key_scope_key
from apps.callrail.client import default_base_url
from apps.core.fields import EncryptedTextField, mask_secret
from apps.tenancy.models import Agency, AuthMode


class Credential(models.Model):
    """One key of an agency: a CallRail API key, or a gateway key with its connections."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="credentials")
    name = models.CharField(max_length=200, help_text="How your team recognises it, e.g. “Agency API key”.")
    auth_mode = models.CharField("authentication", max_length=10, choices=AuthMode.choices, default=AuthMode.DIRECT)
    api_key = EncryptedTextField("API key", help_text="Stored encrypted; never shown again in full.")
    base_url = models.URLField(
        "API base URL",
        blank=True,
        help_text="Empty for CallRail itself (or the gateway). Fixed with the key: enter the key again to change it.",
    )
    key_limit_enabled = models.BooleanField(
        "budget per key",
        default=True,
        help_text="Hold every account of this key to one shared budget as well as each to its own (CallRail "
        "may throttle a key behind many accounts as one).",
    )
    budget_overrides = models.JSONField(
        default=dict,
        blank=True,
        help_text='The key\'s own CallRail limits when they differ, e.g. {"general": {"hour": 2000, "day": 20000}}.',
    )
    error = models.TextField(blank=True, help_text="Why CallRail last refused this key, if it did.")
    error_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    key_changed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "name"],
                name="unique_credential_name_per_agency",
                violation_error_message="This agency already has a credential of that name.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_gateway(self) -> bool:
        return self.auth_mode == AuthMode.GATEWAY

    @property
    def effective_base_url(self) -> str:
        return (self.base_url or default_base_url(self.auth_mode)).rstrip("/")

    @property
    def masked_api_key(self) -> str:
        return mask_secret(self.api_key)

    @property
    def key_fingerprint(self) -> str:
        """What the audit log records of a key: enough to tell two keys apart, nothing to use one."""
        return hashlib.sha256(self.api_key.encode()).hexdigest()[:10] if self.api_key else ""

    @property
    def budget_scope(self) -> Scope | None:
        """The key-level budget every account of this credential also spends, when that limit is on."""
        if not self.key_limit_enabled or self.pk is None:
            return None
        return self.key_scope

    @property
    def key_scope(self) -> Scope:
        """The key's own windows (requests made for the key itself always count here)."""
        return Scope(key_scope_key(self.pk), self.budget_overrides or None, f"the key “{self.name}”")


class ConnectionStatus(models.TextChoices):
    """What the gateway says of a connection (any other status it reports is stored as written), plus
    REMOVED: removed from the portal (and deleted at the gateway)."""

    PENDING = "PENDING", "Waiting for authorisation"
    ACTIVE = "ACTIVE", "Active"
    EXPIRED = "EXPIRED", "Expired"
    FAILED = "FAILED", "Failed"
    REVOKED = "REVOKED", "Revoked"
    DELETED = "DELETED", "Deleted at the gateway"
    REMOVED = "REMOVED", "Removed"


#: Statuses after which a connection never becomes active again.
FINAL_STATUSES = frozenset({"EXPIRED", "FAILED", "REVOKED", "DELETED", "REMOVED", "ERROR", "CANCELLED"})


class GatewayConnection(models.Model):
    """One OAuth connection of a gateway credential (``Maton-Connection``): a CallRail login its owner
    authorised, reaching one or more CallRail accounts."""

    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="connections")
    connection_id = models.CharField("gateway connection id", max_length=100)
    label = models.CharField(max_length=200, blank=True, help_text="Whose CallRail login it is, e.g. the client.")
    status = models.CharField(max_length=40, default=ConnectionStatus.PENDING)
    status_reason = models.TextField(blank=True)
    authorization_url = models.URLField(max_length=2000, blank=True)
    error = models.TextField(blank=True, help_text="Why CallRail or the gateway last refused this connection.")
    error_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    watch_until = models.DateTimeField(null=True, blank=True, help_text="The portal watches a pending connection.")
    removed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["credential", "connection_id"], name="unique_connection_per_credential")
        ]

    def __str__(self) -> str:
        return self.label or f"Connection {self.connection_id[:8]}…"

    @property
    def status_label(self) -> str:
        try:
            return ConnectionStatus(self.status).label
        except ValueError:
            return self.status.capitalize()

    @property
    def is_active(self) -> bool:
        return self.status == ConnectionStatus.ACTIVE and not self.error

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def is_pending(self) -> bool:
        return not self.is_final and self.status != ConnectionStatus.ACTIVE
