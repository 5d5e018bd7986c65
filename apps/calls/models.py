"""Mirror of CallRail calls (GET /v3/a/{account}/calls.json with relative pagination)."""

from django.conf import settings
from django.db import models

from apps.sync.mirror import MirrorModel
from apps.tenancy.models import TenantOwnedModel

#: What the calls list filters on and the call summaries add up, kept in its index (see ``Meta.indexes``).
LIST_COLUMNS = [
    "answered", "voicemail", "direction", "first_call", "spam", "duration", "value", "lead_status", "source",
    "company", "tracker", "tags",
]  # fmt: skip
#: The free-text search of the calls list (``apps/portal/catalog.py``): a trigram index serves its
#: ``icontains`` on PostgreSQL (migration 0003).
SEARCH_COLUMNS = (
    "customer_name", "customer_phone_number", "business_phone_number", "tracking_phone_number", "note", "source",
)  # fmt: skip


class Call(MirrorModel):
    tenancy_company_field = "company"

    # No single-column FK indexes: the (account, company/tracker, start_time) indexes below serve every query,
    # and each extra index slows the bulk upsert of 100,000-call accounts.
    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls", db_index=False
    )
    tracker = models.ForeignKey(
        "trackers.Tracker", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls", db_index=False
    )
    direction = models.CharField(max_length=10, blank=True)
    call_type = models.CharField(max_length=30, blank=True, null=True)
    answered = models.BooleanField(null=True)
    voicemail = models.BooleanField(null=True)
    duration = models.IntegerField(null=True, blank=True, help_text="Seconds.")
    start_time = models.DateTimeField(null=True, blank=True)
    upstream_created_at = models.DateTimeField(null=True, blank=True)
    customer_name = models.CharField(max_length=255, blank=True, null=True)
    customer_phone_number = models.CharField(max_length=32, blank=True, null=True)
    customer_city = models.CharField(max_length=120, blank=True, null=True)
    customer_state = models.CharField(max_length=40, blank=True, null=True)
    customer_country = models.CharField(max_length=40, blank=True, null=True)
    business_phone_number = models.CharField(max_length=32, blank=True, null=True)
    tracking_phone_number = models.CharField(max_length=32, blank=True, null=True)
    source = models.CharField(max_length=255, blank=True, null=True)
    source_name = models.CharField(max_length=255, blank=True, null=True)
    medium = models.CharField(max_length=255, blank=True, null=True)
    campaign = models.CharField(max_length=255, blank=True, null=True)
    keywords = models.TextField(blank=True, null=True)
    landing_page_url = models.TextField(blank=True, null=True)
    referring_url = models.TextField(blank=True, null=True)
    device_type = models.CharField(max_length=20, blank=True, null=True)
    lead_status = models.CharField(max_length=40, blank=True, null=True)
    value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    note = models.TextField(blank=True, null=True)
    tags = models.JSONField(default=list, blank=True, help_text="Tag names.")
    recording_url = models.TextField(blank=True, null=True)
    recording_player = models.TextField(blank=True, null=True)
    recording_duration = models.IntegerField(null=True, blank=True)
    spam = models.BooleanField(default=False)
    first_call = models.BooleanField(null=True)
    prior_calls = models.IntegerField(null=True, blank=True)
    person_id = models.CharField(max_length=64, blank=True, null=True)
    agent_email = models.CharField(max_length=254, blank=True, null=True)

    def __str__(self) -> str:
        from apps.portal.formatting import format_phone, title_case_name

        who = title_case_name(self.customer_name) or format_phone(self.customer_phone_number)
        return f"Call from {who or 'an unknown caller'}"

    @property
    def has_recording(self) -> bool:
        """CallRail has a recording of this call: its ``recording`` field names the API endpoint the portal asks
        for the MP3 (``apps.calls.recordings``)."""
        return bool(self.recording_url)

    class Meta(MirrorModel.Meta):
        ordering = ["-start_time"]
        indexes = [
            models.Index(fields=["client_account", "start_time"], name="call_account_start"),
            models.Index(fields=["client_account", "company", "start_time"], name="call_account_company_start"),
            models.Index(fields=["client_account", "tracker", "start_time"], name="call_account_tracker_start"),
            models.Index(fields=["client_account", "lead_status"], name="call_account_lead_status"),
            models.Index(fields=["client_account", "customer_phone_number"], name="call_account_customer"),
            # The portal's calls list (newest first, id breaks ties), its counts and filters, and the date-range
            # summaries of the dashboard and the overview: read from this index alone (an index-only scan: the
            # columns they filter and add up are included), without visiting the rows. PostgreSQL only
            # (elsewhere ``include`` is ignored and the index holds its key).
            models.Index(
                fields=["client_account", "-start_time", "-id"],
                name="call_live_account_start",
                condition=models.Q(deleted_upstream_at__isnull=True),
                include=LIST_COLUMNS,
            ),
            # the calls list sorted by duration, at any page depth
            models.Index(
                fields=["client_account", "-duration", "-id"],
                name="call_live_account_duration",
                condition=models.Q(deleted_upstream_at__isnull=True),
            ),
        ]


class CallHour(TenantOwnedModel):
    """The live calls of one account and company (or none) that started within one UTC hour, spam left out,
    added up as CallRail's call summary counts them: what the dashboard's date-range figures read instead of
    every call. On PostgreSQL statement triggers on ``calls_call`` keep it exact in the same transaction as
    each write, whatever writes (the sync's upserts, webhooks, edits, retention, deletions; migration 0006).
    The embedded SQLite default has no such triggers: its figures add up the calls (``agency_call_totals``)."""

    tenancy_company_field = "company"

    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    hour = models.DateTimeField(help_text="The UTC hour the calls started in.")
    calls = models.IntegerField(default=0)
    answered = models.IntegerField(default=0)
    voicemails = models.IntegerField(default=0)
    first_time = models.IntegerField(default=0, help_text="Calls from first-time callers.")
    leads = models.IntegerField(default=0, help_text="Calls whose lead status is good_lead.")
    seconds = models.BigIntegerField(default=0, help_text="Their durations added up.")
    value = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client_account", "company", "hour"], nulls_distinct=False, name="call_hour_unique"
            )
        ]
        indexes = [models.Index(fields=["client_account", "hour"], name="call_hour_account_hour")]

    def __str__(self) -> str:
        return f"{self.calls} calls in the hour from {self.hour:%Y-%m-%d %H:00} UTC"


class CallBack(TenantOwnedModel):
    """A "call back" a person started from the portal (``apps/calls/callbacks.py``): CallRail rings
    ``business_phone_number`` (the person's own phone) first, then the customer, showing ``caller_id``.

    Saved with its outbox entry (write ``call_backs``) and placed by the push drain under the account's
    outbound-call budget class; ``call`` is the resulting outbound call once CallRail answered."""

    tenancy_company_field = "company"

    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="+")
    caller_id = models.CharField(max_length=32, help_text="The number the customer sees (tracking or verified).")
    business_phone_number = models.CharField(max_length=32, help_text="Rung first: the person's own phone.")
    customer_phone_number = models.CharField(max_length=32)
    source_call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source_form = models.ForeignKey(
        "form_submissions.FormSubmission", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_conversation = models.ForeignKey(
        "text_conversations.TextConversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    entry = models.ForeignKey("push.OutboxEntry", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    placed_at = models.DateTimeField(null=True, blank=True, help_text="When CallRail accepted it.")

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"call back {self.customer_phone_number}"


class OutboundCallerId(MirrorModel):
    """Mirror of a company's outbound caller IDs (GET /v3/a/{account}/caller_ids.json?company_id=…): external
    numbers a call back may show once CallRail has verified them. The payload keeps CallRail's record as listed;
    its ``validation_code`` (what the person answering CallRail's verification call enters) is no column and no
    list column: only staff see it, in the record's raw payload."""

    tenancy_company_field = "company"

    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="caller_ids"
    )
    phone_number = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=255, blank=True)
    verified = models.BooleanField(null=True)
    upstream_created_at = models.DateTimeField(null=True, blank=True)

    class Meta(MirrorModel.Meta):
        ordering = ["name", "phone_number"]
        verbose_name = "outbound caller ID"
