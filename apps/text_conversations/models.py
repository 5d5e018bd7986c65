"""Mirror of CallRail text message conversations (GET /v3/a/{account}/text-messages.json) and their messages
(GET /v3/a/{account}/text-messages/{conversation_id}.json, newest first, offset-paginated)."""

from django.conf import settings
from django.db import models

from apps.sync.mirror import MirrorModel
from apps.tenancy.models import TenantOwnedModel


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
    # When the whole thread was last read from CallRail (services.conversation_thread_refresh); the pull never
    # writes it. A message newer than this (last_message_at) means the stored thread is behind.
    thread_synced_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta(MirrorModel.Meta):
        ordering = ["-last_message_at"]
        indexes = [models.Index(fields=["client_account", "last_message_at"], name="textconv_account_last_msg")]

    @property
    def thread_is_stale(self) -> bool:
        if self.thread_synced_at is None:
            return True
        return self.last_message_at is not None and self.last_message_at > self.thread_synced_at


class TextMessage(MirrorModel):
    """One message of a conversation, as CallRail's conversation endpoint lists it (its id is the CallRail id)."""

    tenancy_company_field = "conversation__company"

    conversation = models.ForeignKey(TextConversation, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=10, blank=True)  # "incoming" (from the customer) or "outgoing"
    content = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)  # CallRail's created_at
    status = models.CharField(max_length=20, blank=True, null=True)  # outgoing: "sent" or "error"; incoming: null
    sender_name = models.CharField(max_length=255, blank=True, null=True)  # the CallRail user who sent it
    sender_id = models.CharField(max_length=64, blank=True, null=True)

    class Meta(MirrorModel.Meta):
        ordering = ["sent_at", "pk"]
        indexes = [models.Index(fields=["conversation", "sent_at"], name="textmsg_conversation_sent")]

    def __str__(self) -> str:
        return f"{self.direction} message {self.callrail_id}"


class OutgoingText(TenantOwnedModel):
    """A text a person sent from the portal (a reply in a thread, or "text back" to a call or form lead).

    Saved with its outbox entry (``apps/push``, write ``text_sends``) in one transaction and sent by the push
    drain under the account's SMS budget class. Its state is the entry's (pending, in flight, sent, failed with
    CallRail's message); the text stays here, so a refused send keeps the draft. ``conversation`` is set once
    CallRail answered (or at once for a reply in a known conversation).
    """

    tenancy_company_field = "company"

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="+")
    conversation = models.ForeignKey(
        TextConversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="outgoing_texts"
    )
    tracker = models.ForeignKey("trackers.Tracker", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    tracking_number = models.CharField(max_length=32, help_text="The tracking number the text is sent from.")
    customer_phone_number = models.CharField(max_length=32)
    content = models.TextField()
    source_call = models.ForeignKey("calls.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source_form = models.ForeignKey(
        "form_submissions.FormSubmission", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    entry = models.ForeignKey("push.OutboxEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When CallRail accepted it.")
    callrail_conversation_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["client_account", "customer_phone_number"], name="outtext_account_customer"),
        ]

    def __str__(self) -> str:
        return f"text to {self.customer_phone_number}"
