from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from apps.core.views import favicon, healthz, readyz
from apps.tenancy import views as tenancy_views

urlpatterns = [
    # CallRail webhooks first: /hooks/… is the busiest public URL, resolved before the portal's ~100 patterns
    path("", include("apps.webhooks.urls")),  # CallRail webhooks: /hooks/… and the staff pages
    path("", include("apps.portal.urls")),
    path("", include("apps.tenancy.urls")),
    path("", include("apps.credentials.urls")),  # keys, gateway connections, importing accounts (issue 20)
    path("", include("apps.audit.urls")),
    path("", include("apps.summaries.urls")),  # portal summary emails and their unsubscribe link (issue 10)
    path("", include("apps.push.urls")),  # per-account outbox pages (issue 6)
    path("", include("apps.bulk.urls")),  # bulk actions on list selections (issue 8)
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/two-factor/", tenancy_views.TwoFactorVerifyView.as_view(), name="two_factor_verify"),
    path("accounts/two-factor/setup/", tenancy_views.TwoFactorSetupView.as_view(), name="two_factor_setup"),
    path("invitations/<str:token>/", tenancy_views.InvitationAcceptView.as_view(), name="invitation_accept"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("agency_portal.api")),
    path("favicon.ico", favicon),  # browsers ask for it whatever the page links
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("", include("apps.integrations.urls")),  # "Connect webhooks": the company's Webhooks integration
    path("", include("apps.operations.urls")),  # /metrics (Prometheus) and the owners' system page (issue 11)
]

handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
