from django.urls import path

from . import views

app_name = "bulk"

urlpatterns = [
    path("accounts/<int:account_pk>/bulk/", views.BulkJobListView.as_view(), name="jobs"),
    path("accounts/<int:account_pk>/bulk/jobs/<int:job_pk>/", views.BulkJobView.as_view(), name="job"),
    path(
        "accounts/<int:account_pk>/bulk/jobs/<int:job_pk>/progress/",
        views.BulkJobView.as_view(),
        {"partial": True},
        name="job_progress",
    ),
    path("accounts/<int:account_pk>/bulk/<str:resource>/", views.BulkStartView.as_view(), name="start"),
    path("accounts/<int:account_pk>/bulk/<str:resource>/confirm/", views.BulkConfirmView.as_view(), name="confirm"),
]
