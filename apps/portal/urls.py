from django.urls import path, register_converter

from apps.form_submissions import views as form_views
from apps.leads import views as lead_views
from apps.text_conversations import views as text_views

from . import edit_views, recording_views, resource_views, views
from .catalog import PORTAL_RESOURCES


class ResourceConverter:
    """Only the names of the resource pages, so other account URLs are never shadowed."""

    regex = "|".join(r.name for r in PORTAL_RESOURCES)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ResourceConverter, "resource")

app_name = "portal"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("agency/switch/", views.AgencySwitchView.as_view(), name="agency_switch"),
    path("accounts/new/", views.AccountConnectView.as_view(), name="account_create"),
    path("accounts/<int:account_pk>/", views.AccountDetailView.as_view(), name="account_detail"),
    path("accounts/<int:account_pk>/edit/", views.AccountFormView.as_view(), name="account_edit"),
    path("accounts/<int:account_pk>/check/", views.AccountConnectionCheckView.as_view(), name="account_check"),
    path("accounts/<int:account_pk>/sync/", views.AccountSyncNowView.as_view(), name="account_sync"),
    path("accounts/<int:account_pk>/sync/pause/", views.AccountSyncPauseView.as_view(), name="account_sync_pause"),
    path("accounts/<int:account_pk>/sync/runs/", views.AccountSyncStatusView.as_view(), name="account_sync_runs"),
    path("accounts/<int:account_pk>/sync/schedule/", views.AccountScheduleView.as_view(), name="account_schedule"),
    path(
        "accounts/<int:account_pk>/calls/<int:pk>/recording.mp3",
        recording_views.CallRecordingView.as_view(),
        name="call_recording",
    ),
    path(
        "accounts/<int:account_pk>/text_conversations/<int:pk>/thread/",
        text_views.ConversationThreadView.as_view(),
        name="conversation_thread",
    ),
    path(
        "accounts/<int:account_pk>/text_conversations/<int:pk>/reply/",
        text_views.ConversationReplyView.as_view(),
        name="conversation_reply",
    ),
    path(
        "accounts/<int:account_pk>/calls/<int:pk>/text-back/",
        text_views.TextBackView.as_view(source="calls"),
        name="call_text_back",
    ),
    path(
        "accounts/<int:account_pk>/form_submissions/<int:pk>/text-back/",
        text_views.TextBackView.as_view(source="form_submissions"),
        name="form_text_back",
    ),
    path("accounts/<int:account_pk>/forms/report/", form_views.FormsReportView.as_view(), name="forms_report"),
    path("leads/", lead_views.LeadInboxView.as_view(), name="leads"),
    path("accounts/<int:account_pk>/leads/", lead_views.LeadInboxView.as_view(), name="account_leads"),
    path("accounts/<int:account_pk>/leads/assign/", lead_views.LeadAssignView.as_view(), name="lead_assign"),
    path(
        "accounts/<int:account_pk>/calls/<int:pk>/call-back/",
        text_views.CallBackView.as_view(source="calls"),
        name="call_call_back",
    ),
    path(
        "accounts/<int:account_pk>/form_submissions/<int:pk>/call-back/",
        text_views.CallBackView.as_view(source="form_submissions"),
        name="form_call_back",
    ),
    path(
        "accounts/<int:account_pk>/text_conversations/<int:pk>/call-back/",
        text_views.CallBackView.as_view(source="text_conversations"),
        name="conversation_call_back",
    ),
    path(
        "accounts/<int:account_pk>/<resource:resource>/",
        resource_views.ResourceListView.as_view(),
        name="resource_list",
    ),
    path(
        "accounts/<int:account_pk>/<resource:resource>/export.csv",
        resource_views.ResourceExportView.as_view(),
        name="resource_export",
    ),
    path(
        "accounts/<int:account_pk>/<resource:resource>/columns/",
        resource_views.ResourceColumnsView.as_view(),
        name="resource_columns",
    ),
    path(
        "accounts/<int:account_pk>/<resource:resource>/views/",
        resource_views.SavedViewCreateView.as_view(),
        name="saved_view_create",
    ),
    path(
        "accounts/<int:account_pk>/<resource:resource>/views/<int:pk>/delete/",
        resource_views.SavedViewDeleteView.as_view(),
        name="saved_view_delete",
    ),
    path(
        "accounts/<int:account_pk>/<resource:resource>/new/",
        edit_views.ResourceEditView.as_view(),
        name="resource_create",
    ),
    path(
        "accounts/<int:account_pk>/<resource:resource>/<int:pk>/edit/",
        edit_views.ResourceEditView.as_view(),
        name="resource_edit",
    ),
    path(
        "accounts/<int:account_pk>/<resource:resource>/<int:pk>/delete/",
        edit_views.ResourceDeleteView.as_view(),
        name="resource_delete",
    ),
    path(
        "accounts/<int:account_pk>/<resource:resource>/<int:pk>/badge/",
        edit_views.RecordBadgeView.as_view(),
        name="resource_badge",
    ),
    path(
        "accounts/<int:account_pk>/<resource:resource>/<int:pk>/",
        resource_views.ResourceDetailView.as_view(),
        name="resource_detail",
    ),
]
