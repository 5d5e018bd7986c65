"""Owners and admins can view the portal as one of their clients; clearly bannered and audited."""

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def client_membership(tenant):
    return tenant.client_user.memberships.get()


def test_owner_views_as_client_sees_only_its_data_with_a_banner(login, tenant):
    browser = login(tenant.owner)
    browser.post(reverse("tenancy:impersonation_start", args=[client_membership(tenant).pk]))
    body = browser.get(reverse("portal:dashboard")).content.decode()
    assert "Viewing as" in body
    assert tenant.account.name in body
    assert tenant.other_account.name not in body
    start = AuditEvent.objects.get(action="impersonation.start")
    assert (start.actor, start.impersonator) == (tenant.client_user, tenant.owner)
    browser.post(reverse("tenancy:impersonation_stop"))
    body = browser.get(reverse("portal:dashboard")).content.decode()
    assert "Viewing as" not in body
    assert tenant.other_account.name in body
    assert AuditEvent.objects.filter(action="impersonation.stop", impersonator=tenant.owner).exists()


def test_client_settings_tokens_and_api_are_out_of_reach_while_viewing_as(login, tenant):
    browser = login(tenant.owner)
    browser.post(reverse("tenancy:impersonation_start", args=[client_membership(tenant).pk]))
    assert browser.get(reverse("tenancy:security")).status_code == 403
    assert browser.get("/api/v1/client-accounts/").status_code == 403
    assert browser.get(reverse("tenancy:members")).status_code == 403


@pytest.mark.parametrize("role", ["staff", "restricted_staff", "client_user"])
def test_only_owners_and_admins_may_view_as(login, tenant, role):
    response = login(getattr(tenant, role)).post(
        reverse("tenancy:impersonation_start", args=[client_membership(tenant).pk])
    )
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="impersonation.start").exists()


def test_cannot_view_as_staff_or_another_agencys_client(login, tenant, other_tenant):
    browser = login(tenant.owner)
    browser.post(reverse("tenancy:impersonation_start", args=[tenant.staff.memberships.get().pk]))
    assert "Viewing as" not in browser.get(reverse("portal:dashboard")).content.decode()
    response = browser.post(reverse("tenancy:impersonation_start", args=[client_membership(other_tenant).pk]))
    assert response.status_code == 404


def test_losing_the_admin_role_ends_the_impersonation_at_once(login, tenant):
    admin_membership = tenant.admin.memberships.get()
    browser = login(tenant.admin)
    browser.post(reverse("tenancy:impersonation_start", args=[client_membership(tenant).pk]))
    assert "Viewing as" in browser.get(reverse("portal:dashboard")).content.decode()
    admin_membership.role = "staff"
    admin_membership.save()
    body = browser.get(reverse("portal:dashboard")).content.decode()
    assert "Viewing as" not in body
    assert tenant.other_account.name in body  # back to the real (now staff) person


def test_client_of_two_agencies_is_viewed_only_by_a_manager_of_one(login, tenant, other_tenant):
    shared = MembershipFactory(user=tenant.client_user, agency=other_tenant.agency, role="client",
                               client_accounts=[other_tenant.account])
    response = login(tenant.owner).post(reverse("tenancy:impersonation_start", args=[shared.pk]))
    assert response.status_code == 404
