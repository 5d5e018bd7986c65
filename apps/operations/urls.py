from django.urls import path

from . import views

app_name = "operations"

urlpatterns = [
    path("metrics", views.metrics, name="metrics"),
    path("agency/system/", views.SystemView.as_view(), name="system"),
    path("agency/system/workers/", views.SystemWorkersView.as_view(), name="system_workers"),
    path("accounts/<int:account_pk>/deletion/", views.AccountDeletionView.as_view(), name="account_deletion"),
]
