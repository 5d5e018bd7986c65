"""In headless Chromium: an owner edits a member's role, accounts and companies, assigns staff to an account
from the account page, and views the portal as a client (refused pages keep "Stop viewing as client")."""

from __future__ import annotations

import pytest

from apps.tenancy.models import Membership, Role
from tests.factories import TEST_PASSWORD, MembershipFactory
from tests.portal.mirror import every_resource
from tests.portal.test_browser import page, shot  # noqa: F401 - the Chromium fixture

pytestmark = [pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, user) -> None:  # noqa: F811
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_owner_changes_a_members_role_accounts_and_companies(page, live_server, tenant):  # noqa: F811
    company = every_resource(tenant.account, label="Northside")["companies"]
    member = Membership.objects.get(user=tenant.restricted_staff)
    sign_in(page, live_server, tenant.owner)
    page.click("nav.mainnav >> text=Members")
    row = page.locator("tr", has_text=tenant.restricted_staff.email)
    row.locator("text=Edit").click()
    page.select_option("select[name=role]", Role.CLIENT)
    page.check(f"input[name=client_accounts][value='{tenant.other_account.pk}']")
    page.check(f"input[name=companies][value='{company.pk}']")
    shot(page, "member-edit")
    page.click("button:has-text('Save')")
    page.wait_for_url(f"{live_server.url}/agency/members/")
    assert f"{tenant.restricted_staff} updated." in page.locator(".messages").inner_text()
    member.refresh_from_db()
    assert member.role == Role.CLIENT
    assert set(member.client_accounts.values_list("pk", flat=True)) == {tenant.account.pk, tenant.other_account.pk}
    assert list(member.companies.values_list("pk", flat=True)) == [company.pk]


def test_assign_staff_from_the_account_page(page, live_server, tenant):  # noqa: F811
    newcomer = MembershipFactory(agency=tenant.agency, role=Role.STAFF, client_accounts=[tenant.other_account])
    sign_in(page, live_server, tenant.admin)
    page.goto(f"{live_server.url}/accounts/{tenant.account.pk}/")
    page.click("text=Assign staff")
    page.wait_for_url(f"{live_server.url}/accounts/{tenant.account.pk}/access/")
    row = page.locator("tr", has_text=newcomer.user.email)
    row.locator("button:has-text('Give access')").click()
    assert "can now work in" in page.locator(".messages").inner_text()
    shot(page, "account-access")
    assert set(newcomer.client_accounts.values_list("pk", flat=True)) == {tenant.account.pk, tenant.other_account.pk}
    # an admin sees the owner, but cannot edit them; and is offered roles up to admin only
    owner_row = page.locator("tr", has_text=tenant.owner.email)
    assert owner_row.locator("text=Edit member").count() == 0
    page.locator("tr", has_text=newcomer.user.email).locator("text=Edit member").click()
    roles = page.locator("select[name=role] option").all_inner_texts()
    assert roles == ["Admin", "Staff", "Client"]


def test_viewing_as_a_client_keeps_the_way_back_on_refused_pages(page, live_server, tenant):  # noqa: F811
    sign_in(page, live_server, tenant.owner)
    page.goto(f"{live_server.url}/agency/members/")
    page.locator("tr", has_text=tenant.client_user.email).locator("button:has-text('View as')").click()
    assert "Viewing as" in page.locator(".impersonation-banner").inner_text()
    assert page.locator("nav.mainnav >> text=Members").count() == 0
    response = page.goto(f"{live_server.url}/agency/members/")
    assert response.status == 403
    shot(page, "view-as-refused")
    page.click("button:has-text('Stop viewing as client')")
    page.wait_for_url(f"{live_server.url}/agency/members/")
    assert page.locator(".impersonation-banner").count() == 0
