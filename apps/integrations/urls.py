from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path(
        "accounts/<int:account_pk>/webhooks/companies/<int:company_pk>/connect/",
        views.WebhooksConnectView.as_view(),
        name="webhooks_connect",
    ),
]
