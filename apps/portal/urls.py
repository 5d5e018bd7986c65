from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("agency/switch/", views.AgencySwitchView.as_view(), name="agency_switch"),
    path("accounts/new/", views.AccountFormView.as_view(), name="account_create"),
    path("accounts/<int:account_pk>/", views.AccountDetailView.as_view(), name="account_detail"),
    path("accounts/<int:account_pk>/edit/", views.AccountFormView.as_view(), name="account_edit"),
    path("accounts/<int:account_pk>/check/", views.AccountConnectionCheckView.as_view(), name="account_check"),
    path("accounts/<int:account_pk>/sync/", views.AccountSyncNowView.as_view(), name="account_sync"),
    path("accounts/<int:account_pk>/sync/runs/", views.AccountSyncStatusView.as_view(), name="account_sync_runs"),
    path("accounts/<int:account_pk>/sync/schedule/", views.AccountScheduleView.as_view(), name="account_schedule"),
]
