"""Finding 1 (critical): "View as client" handed over the whole target user.

An owner of agency A viewing as a user who is a client in A but also owner of agency B (or a superuser)
became that user: the agency fell back to B, B's account settings answered 200, a superuser target opened
/metrics. A view-as session now carries only the target's client access inside the viewer's agency.
"""

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.audit.models import AuditEvent
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.django_db]


def view_as(tenant) -> Client:
    browser = Client()
    browser.force_login(tenant.owner)
    membership = tenant.client_user.memberships.get(agency=tenant.agency)
    response = browser.post(reverse("tenancy:impersonation_start", args=[membership.pk]))
    assert response.status_code == 302
    return browser


def test_viewing_as_a_client_who_owns_another_agency_never_reaches_that_agency(tenant, other_tenant):
    MembershipFactory(user=tenant.client_user, agency=other_tenant.agency, role="owner")
    browser = view_as(tenant)
    # the session's agency is the viewer's: switching to the target's other agency is refused
    assert browser.post(reverse("portal:agency_switch"), {"agency": other_tenant.agency.pk}).status_code == 403
    dashboard = browser.get(reverse("portal:dashboard")).content.decode()
    assert tenant.account.name in dashboard
    for foreign in (other_tenant.agency.name, other_tenant.account.name, other_tenant.other_account.name):
        assert foreign not in dashboard
    for name in ("portal:account_edit", "portal:account_detail", "portal:account_check"):
        url = reverse(name, kwargs={"account_pk": other_tenant.account.pk})
        assert browser.get(url).status_code in (403, 404), url
        assert browser.post(url, {"base_url": "http://127.0.0.1:9/"}).status_code in (403, 404, 405), url
    assert browser.get("/api/v1/client-accounts/").status_code == 403


def test_viewing_as_a_superuser_client_is_never_a_superuser(tenant, other_tenant):
    tenant.client_user.is_superuser = tenant.client_user.is_staff = True
    tenant.client_user.save()
    browser = view_as(tenant)
    assert browser.get(reverse("operations:metrics")).status_code == 403
    assert browser.get("/admin/").status_code in (302, 403)
    assert browser.get(reverse("operations:system")).status_code == 403
    page = browser.get(reverse("portal:dashboard")).content.decode()
    assert other_tenant.account.name not in page
    assert tenant.other_account.name not in page  # only the client's own account, not the whole agency
    assert browser.get(reverse("portal:account_detail", args=[other_tenant.account.pk])).status_code == 404
    tenant.client_user.refresh_from_db()
    assert tenant.client_user.is_superuser  # nothing about the real user was changed


def test_pages_a_client_may_not_open_answer_403_while_viewing_as(tenant):
    browser = view_as(tenant)
    account = tenant.account.pk
    for url in (
        reverse("tenancy:members"),
        reverse("tenancy:agency_settings"),
        reverse("portal:account_edit", args=[account]),
        reverse("push:outbox", args=[account]),
        reverse("audit:agency_log"),
        reverse("summaries:list", args=[account]),
        reverse("tenancy:security"),
        reverse("two_factor_setup"),
        reverse("password_change"),
        "/api/v1/calls/",
    ):
        response = browser.get(url)
        assert response.status_code == 403, url
        assert "stop viewing as" in response.content.decode().lower(), url  # the way back is on the refusal too
    assert not TOTPDevice.objects.filter(user=tenant.client_user).exists()


def test_every_request_while_viewing_as_is_attributable_in_the_audit_log(tenant):
    browser = view_as(tenant)
    browser.get(reverse("portal:account_detail", args=[tenant.account.pk]))
    browser.get(reverse("tenancy:members"))
    seen = AuditEvent.objects.filter(action="view_as.request", impersonator=tenant.owner, actor=tenant.client_user)
    paths = {(e.after["method"], e.after["path"], e.after["status"]) for e in seen}
    assert ("GET", reverse("portal:account_detail", args=[tenant.account.pk]), 200) in paths
    assert ("GET", reverse("tenancy:members"), 403) in paths
