from django.urls import path

from . import views

app_name = "tenancy"

urlpatterns = [
    path("agency/members/", views.MembersView.as_view(), name="members"),
    path("agency/members/<int:pk>/", views.MemberEditView.as_view(), name="member_edit"),
    path("accounts/<int:account_pk>/access/", views.AccountAccessView.as_view(), name="account_access"),
    path("agency/members/<int:pk>/view-as/", views.ImpersonationStartView.as_view(), name="impersonation_start"),
    path("agency/members/<int:pk>/<slug:action>/", views.MembershipActionView.as_view(), name="membership_action"),
    path("agency/invitations/<int:pk>/<slug:action>/", views.InvitationActionView.as_view(), name="invitation_action"),
    path("agency/settings/", views.AgencySettingsView.as_view(), name="agency_settings"),
    path("agency/logo/", views.AgencyLogoView.as_view(), name="agency_logo"),
    path("me/security/", views.SecurityView.as_view(), name="security"),
    path("impersonation/stop/", views.ImpersonationStopView.as_view(), name="impersonation_stop"),
]
