"""The REST API router: each app's api.py contributes its viewsets here."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from apps.credentials.api import CredentialViewSet
from apps.form_submissions.api import register as register_form_endpoints
from apps.sync.api import register as register_mirror_endpoints
from apps.tenancy.api import ClientAccountViewSet
from apps.text_conversations.api import register as register_lead_endpoints

router = DefaultRouter()
router.register("client-accounts", ClientAccountViewSet, basename="client-account")
router.register("credentials", CredentialViewSet, basename="credential")
register_mirror_endpoints(router)
register_lead_endpoints(router)
register_form_endpoints(router)

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
