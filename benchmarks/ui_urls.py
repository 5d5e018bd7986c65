"""The UI benchmark's URLs: the portal's, plus its baseline page (the floor every portal page stands on)."""

from django.urls import include, path
from django.views.generic import TemplateView

from apps.portal.mixins import PortalView


class BaselineView(PortalView, TemplateView):
    """Signed in, in the agency, the layout with its navigation: a portal page with no content of its own."""

    template_name = "base.html"


urlpatterns = [
    path("bench-baseline/", BaselineView.as_view(), name="bench_baseline"),
    path("", include("agency_portal.urls")),
]
