from django.urls import path

from . import views

app_name = "credentials"

CREDENTIAL = "agency/credentials/<int:credential_pk>/"
CONNECTION = CREDENTIAL + "connections/<int:connection_pk>/"

urlpatterns = [
    path("agency/credentials/", views.CredentialListView.as_view(), name="list"),
    path("agency/credentials/new/", views.CredentialCreateView.as_view(), name="create"),
    path(CREDENTIAL, views.CredentialDetailView.as_view(), name="detail"),
    path(CREDENTIAL + "settings/", views.CredentialSettingsView.as_view(), name="settings"),
    path(CREDENTIAL + "key/", views.CredentialKeyView.as_view(), name="key"),
    path(CREDENTIAL + "delete/", views.CredentialDeleteView.as_view(), name="delete"),
    path(CREDENTIAL + "import/", views.CredentialImportView.as_view(), name="import"),
    path(CREDENTIAL + "connections/new/", views.ConnectionCreateView.as_view(), name="connection_create"),
    path(CREDENTIAL + "connections/refresh/", views.ConnectionsRefreshView.as_view(), name="connections_refresh"),
    path(CONNECTION, views.ConnectionDetailView.as_view(), name="connection"),
    path(CONNECTION + "status/", views.ConnectionStatusView.as_view(), name="connection_status"),
    path(CONNECTION + "check/", views.ConnectionCheckView.as_view(), name="connection_check"),
    path(CONNECTION + "send/", views.ConnectionSendView.as_view(), name="connection_send"),
    path(CONNECTION + "remove/", views.ConnectionRemoveView.as_view(), name="connection_remove"),
]
