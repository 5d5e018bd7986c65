"""The abstract base of every mirrored CallRail record.

Each mirrored row keeps the CallRail id (unique per client account), the full upstream payload, a hash of
that payload (so an unchanged record is recognised without comparing columns), when the pull engine last
saw it upstream, when its content last changed, and whether CallRail has deleted it. Deleted records are
marked, never removed: ``Model.objects.for_account(a).live()`` hides them, ``.deleted()`` finds them.
"""

from __future__ import annotations

from django.db import models

from apps.tenancy.models import TenantOwnedModel
from apps.tenancy.scoping import TenantManager, TenantQuerySet


class MirrorQuerySet(TenantQuerySet):
    def live(self) -> MirrorQuerySet:
        """Records CallRail still has (what lists show by default)."""
        return self.filter(deleted_upstream_at__isnull=True)

    def deleted(self) -> MirrorQuerySet:
        return self.filter(deleted_upstream_at__isnull=False)


MirrorManager = TenantManager.from_queryset(MirrorQuerySet)


class MirrorModel(TenantOwnedModel):
    callrail_id = models.CharField("CallRail id", max_length=64)
    payload = models.JSONField(default=dict, help_text="The record exactly as CallRail last listed it.")
    payload_hash = models.CharField(max_length=40, editable=False)
    first_seen_at = models.DateTimeField(editable=False)
    last_seen_at = models.DateTimeField(editable=False)
    changed_at = models.DateTimeField(editable=False, help_text="When the mirrored content last changed.")
    deleted_upstream_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = MirrorManager()

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["client_account", "callrail_id"], name="%(app_label)s_%(class)s_unique_callrail_id"
            )
        ]

    @property
    def is_deleted_upstream(self) -> bool:
        return self.deleted_upstream_at is not None

    def __str__(self) -> str:
        return getattr(self, "name", "") or self.callrail_id
