from django.urls import path, re_path

from . import views
from .events import SLUG_PATTERN

app_name = "webhooks"

urlpatterns = [
    re_path(
        rf"^hooks/(?P<token>[A-Za-z0-9_-]{{20,64}})/(?P<event_type>{SLUG_PATTERN})/$",
        views.WebhookReceiveView.as_view(),
        name="receive",
    ),
    path("accounts/<int:account_pk>/webhooks/", views.WebhookLogView.as_view(), name="log"),
    path("accounts/<int:account_pk>/webhooks/events/<int:event_pk>/", views.WebhookEventView.as_view(), name="event"),
    path(
        "accounts/<int:account_pk>/webhooks/companies/<int:company_pk>/key/",
        views.WebhookSigningKeyView.as_view(),
        name="signing_key",
    ),
]
