from django.urls import path

from . import views

app_name = "summaries"

urlpatterns = [
    path("accounts/<int:account_pk>/summaries/", views.SummaryListView.as_view(), name="list"),
    path("accounts/<int:account_pk>/summaries/new/", views.SummaryFormView.as_view(), name="create"),
    path("accounts/<int:account_pk>/summaries/log/", views.DeliveryLogView.as_view(), name="log"),
    path("accounts/<int:account_pk>/summaries/<int:summary_pk>/", views.SummaryFormView.as_view(), name="edit"),
    path(
        "accounts/<int:account_pk>/summaries/<int:summary_pk>/delete/",
        views.SummaryDeleteView.as_view(),
        name="delete",
    ),
    path(
        "accounts/<int:account_pk>/summaries/<int:summary_pk>/preview/",
        views.SummaryPreviewView.as_view(),
        name="preview",
    ),
    path(
        "accounts/<int:account_pk>/summaries/<int:summary_pk>/preview/email/",
        views.SummaryPreviewEmailView.as_view(),
        name="preview_email",
    ),
    path(
        "accounts/<int:account_pk>/summaries/<int:summary_pk>/test/",
        views.SummaryTestSendView.as_view(),
        name="test_send",
    ),
    path("me/summaries/", views.MySummariesView.as_view(), name="mine"),
    # Public: the signed token is the authorisation (one-click unsubscribe from the email, no sign-in).
    path("summaries/unsubscribe/<str:token>/", views.UnsubscribeView.as_view(), name="unsubscribe"),
]
