from django.urls import path

from . import views

app_name = "push"

urlpatterns = [
    path("accounts/<int:account_pk>/outbox/", views.OutboxView.as_view(), name="outbox"),
    path("accounts/<int:account_pk>/outbox/<int:entry_pk>/retry/", views.OutboxRetryView.as_view(), name="retry"),
    path("accounts/<int:account_pk>/outbox/<int:entry_pk>/discard/", views.OutboxDiscardView.as_view(), name="discard"),
]
