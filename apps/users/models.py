"""Mirror of CallRail users (GET /v3/a/{account}/users.json) — not portal logins (app label callrail_users)."""

from django.db import models

from apps.sync.mirror import MirrorModel


class CallRailUser(MirrorModel):
    email = models.CharField(max_length=254, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    name = models.CharField(max_length=300, blank=True)
    role = models.CharField(max_length=20, blank=True)
    accepted = models.BooleanField(null=True)
    company_ids = models.JSONField(default=list, blank=True, help_text="CallRail ids of the user's companies.")
    upstream_created_at = models.DateTimeField(null=True, blank=True)

    class Meta(MirrorModel.Meta):
        ordering = ["email"]
        verbose_name = "CallRail user"
