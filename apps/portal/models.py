"""Per-user preferences of the portal's lists (not tenant data: they hold only column keys)."""

from django.conf import settings
from django.db import models

from apps.tenancy.models import TenantOwnedModel


class ListPreference(models.Model):
    """The columns (and rows per page) a user chose for one resource list, remembered across sessions."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="list_preferences")
    resource = models.CharField(max_length=40)
    columns = models.JSONField(default=list, blank=True)
    page_size = models.PositiveSmallIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "resource"], name="portal_listpreference_unique")]

    def __str__(self) -> str:
        return f"{self.user} · {self.resource}"


class SavedView(TenantOwnedModel):
    """A person's named filter of one list in one client account (the list's query string), shown above the list.

    Tenant data: it belongs to the account (deleted with it) and is read through the account the person may
    see; only its owner sees or changes it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    resource = models.CharField(max_length=40)
    name = models.CharField(max_length=80)
    query = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client_account", "resource", "name"], name="portal_savedview_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name
