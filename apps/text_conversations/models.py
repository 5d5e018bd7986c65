"""Mirror of CallRail text message conversations (GET /v3/a/{account}/text-messages.json)."""

from django.db import models

from apps.sync.mirror import MirrorModel


class TextConversation(MirrorModel):
    tenancy_company_field = "company"

    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="text_conversations"
    )
    current_tracker = models.ForeignKey(
        "trackers.Tracker", null=True, blank=True, on_delete=models.SET_NULL, related_name="text_conversations"
    )
    customer_name = models.CharField(max_length=255, blank=True, null=True)
    customer_phone_number = models.CharField(max_length=32, blank=True, null=True)
    initial_tracking_number = models.CharField(max_length=32, blank=True, null=True)
    current_tracking_number = models.CharField(max_length=32, blank=True, null=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=20, blank=True)
    lead_status = models.CharField(max_length=40, blank=True, null=True)

    class Meta(MirrorModel.Meta):
        ordering = ["-last_message_at"]
        indexes = [models.Index(fields=["client_account", "last_message_at"], name="textconv_account_last_msg")]
