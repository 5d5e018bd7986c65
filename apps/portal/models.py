"""Per-user preferences of the portal's lists (not tenant data: they hold only column keys)."""

from django.conf import settings
from django.db import models


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
