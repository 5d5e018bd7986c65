from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("agency/audit/", views.AuditLogView.as_view(), name="agency_log"),
    path("accounts/<int:account_pk>/audit/", views.AuditLogView.as_view(), name="account_log"),
]
