"""Portal pages: sign-in, dashboard, agency switcher, client account pages and form validation."""

import pytest
from django.core import mail
from django.urls import reverse

from apps.sandbox.seed import DEMO_ACCOUNTS
from apps.tenancy.models import Role
from tests.factories import TEST_PASSWORD, CredentialFactory, MembershipFactory

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

def test_pages_require_sign_in(client, tenant):
    for url in [reverse("portal:dashboard"), reverse("portal:account_detail", args=[tenant.account.pk])]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_sign_in_with_email_and_password_then_sign_out(client, tenant):
    response = client.post(reverse("login"), {"username": tenant.owner.email, "password": TEST_PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("portal:dashboard")
    assert tenant.account.name.encode() in response.content
    response = client.post(reverse("logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")


def test_wrong_password_shows_a_clear_error(client, tenant):
    response = client.post(reverse("login"), {"username": tenant.owner.email, "password": "nope"})
    assert response.status_code == 200
    assert b"do not match an active account" in response.content


def test_password_reset_sends_a_working_link(client, tenant):
    client.post(reverse("password_reset"), {"email": tenant.staff.email})
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/reset/" in line)
    response = client.get(link.split("://", 1)[1].split("/", 1)[1].join(["/", ""]), follow=True)
    assert response.context["validlink"]
    response = client.post(
        response.redirect_chain[-1][0], {"new_password1": "a-new-long-pass-42", "new_password2": "a-new-long-pass-42"}
    )
    assert response.status_code == 302
    response = client.post(reverse("login"), {"username": tenant.staff.email, "password": "a-new-long-pass-42"})
    assert response.status_code == 302
    assert response.url == reverse("portal:dashboard")


def test_dashboard_lists_only_accounts_the_user_may_see(login, tenant, other_tenant):
    body = login(tenant.restricted_staff).get(reverse("portal:dashboard")).content.decode()
    assert tenant.account.name in body
    assert tenant.other_account.name not in body
    assert other_tenant.account.name not in body


def test_dashboard_empty_state_for_manager_offers_to_connect(login, db):
    membership = MembershipFactory(role=Role.OWNER)
    body = login(membership.user).get(reverse("portal:dashboard")).content.decode()
    assert "No client accounts yet" in body
    assert reverse("portal:account_create") in body


@pytest.mark.parametrize("role", ["owner", "staff", "restricted_staff", "client_user"])
def test_another_tenants_account_is_a_404_for_every_role(login, tenant, other_tenant, role):
    client = login(getattr(tenant, role))
    for name in ["portal:account_detail", "portal:account_edit"]:
        response = client.get(reverse(name, args=[other_tenant.account.pk]))
        assert response.status_code in (403, 404), (name, role)
        assert other_tenant.account.name.encode() not in response.content


def test_client_cannot_see_sibling_account_of_own_agency(login, tenant):
    response = login(tenant.client_user).get(reverse("portal:account_detail", args=[tenant.other_account.pk]))
    assert response.status_code == 404


def test_account_page_never_shows_the_key_in_full(login, tenant):
    body = login(tenant.owner).get(reverse("portal:account_detail", args=[tenant.account.pk])).content.decode()
    assert tenant.account.api_key not in body
    assert tenant.account.api_key[-4:] in body


def test_staff_and_clients_cannot_connect_accounts(login, tenant):
    for user in (tenant.staff, tenant.client_user):
        assert login(user).get(reverse("portal:account_create")).status_code == 403


@pytest.fixture
def sandbox_credential(tenant, sandbox):
    """The agency's key reaching the sandbox's second demo account."""
    return CredentialFactory(agency=tenant.agency, name="Lakeside key", api_key=DEMO_ACCOUNTS[1].api_key,
                             base_url=sandbox.url)  # fmt: skip


def account_form(chosen, **overrides) -> dict:
    data = {"credential": chosen.pk, "callrail_account_id": DEMO_ACCOUNTS[1].account_id, "name": "Bright Smiles",
            "time_zone": "", "gateway_connection": ""}  # fmt: skip
    return {**data, **overrides}


def test_owner_connects_an_account_through_a_credential(login, tenant, sandbox, sandbox_credential):
    response = login(tenant.owner).post(reverse("portal:account_create"), account_form(sandbox_credential))
    account = tenant.agency.client_accounts.get(callrail_account_id=DEMO_ACCOUNTS[1].account_id)
    assert response.status_code == 302
    assert response.url == reverse("portal:account_detail", args=[account.pk])
    assert account.credential == sandbox_credential
    assert account.api_key == DEMO_ACCOUNTS[1].api_key
    companies = sandbox.state.accounts[DEMO_ACCOUNTS[1].account_id].companies.values()
    assert account.time_zone in {c["time_zone"] for c in companies}  # read from CallRail, not the default


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"callrail_account_id": "ACC123"}, "callrail_account_id", "ACC followed by 32 lowercase hex"),
        ({"callrail_account_id": "COM8154748ae6bd4e278a7cddd38a662f4f"}, "callrail_account_id", "ACC followed"),
        ({"name": ""}, "name", "This field is required"),
        ({"credential": "999999"}, "credential", "Select a valid choice"),
    ],
)
def test_connect_form_rejects_bad_input_beside_the_field(login, tenant, sandbox_credential, overrides, field, message):
    response = login(tenant.owner).post(reverse("portal:account_create"), account_form(sandbox_credential, **overrides))
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    body = response.content.decode()
    assert f'id="id_{field}-error"' in body or f"id_{field}_error" in body
    assert overrides.get("name", "Bright Smiles") in body  # what was typed is kept
    assert tenant.agency.client_accounts.filter(name="Bright Smiles").count() == 0


def test_an_account_the_key_does_not_reach_is_refused_and_nothing_is_kept(login, tenant, sandbox_credential):
    data = account_form(sandbox_credential, callrail_account_id=DEMO_ACCOUNTS[2].account_id)
    response = login(tenant.owner).post(reverse("portal:account_create"), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "the key does not reach this account" in body
    assert "Nothing was imported" in body
    assert not tenant.agency.client_accounts.filter(callrail_account_id=DEMO_ACCOUNTS[2].account_id).exists()


def test_connecting_the_same_callrail_account_twice_is_refused(login, tenant, sandbox_credential):
    client = login(tenant.owner)
    client.post(reverse("portal:account_create"), account_form(sandbox_credential))
    response = client.post(reverse("portal:account_create"), account_form(sandbox_credential, name="Again"))
    assert response.status_code == 200
    assert "is already connected in Acme as “Bright Smiles”" in response.content.decode()
    assert tenant.agency.client_accounts.filter(name="Again").count() == 0


def test_edit_keeps_the_key_with_its_credential(login, tenant):
    old_key = tenant.account.api_key
    url = reverse("portal:account_edit", args=[tenant.account.pk])
    response = login(tenant.admin).post(url, {"name": "Renamed", "time_zone": "America/Chicago",
                                              "credential": tenant.account.credential_id})  # fmt: skip
    assert response.status_code == 302
    tenant.account.refresh_from_db()
    assert (tenant.account.name, tenant.account.time_zone, tenant.account.api_key) == (
        "Renamed", "America/Chicago", old_key,
    )  # fmt: skip


def test_the_edit_form_offers_only_this_agencys_credentials(login, tenant, other_tenant):
    url = reverse("portal:account_edit", args=[tenant.account.pk])
    client = login(tenant.owner)
    choices = client.get(url).context["form"].fields["credential"].queryset
    assert set(choices) == {tenant.account.credential, tenant.other_account.credential}
    response = client.post(url, {"name": "X", "time_zone": "UTC", "credential": other_tenant.account.credential_id})
    assert response.status_code == 200
    tenant.account.refresh_from_db()
    assert tenant.account.credential_id != other_tenant.account.credential_id


def test_agency_switcher_changes_the_working_agency(login, tenant, other_tenant):
    MembershipFactory(user=tenant.staff, agency=other_tenant.agency, role=Role.STAFF)
    client = login(tenant.staff)
    client.post(reverse("portal:agency_switch"), {"agency": other_tenant.agency.pk})
    body = client.get(reverse("portal:dashboard")).content.decode()
    assert other_tenant.account.name in body
    assert tenant.account.name not in body


def test_agency_switcher_refuses_foreign_agency_and_offsite_redirect(login, tenant, other_tenant):
    client = login(tenant.staff)
    response = client.post(
        reverse("portal:agency_switch"), {"agency": other_tenant.agency.pk, "next": "https://evil.example/"}
    )
    assert response.url == reverse("portal:dashboard")
    body = client.get(reverse("portal:dashboard")).content.decode()
    assert tenant.account.name in body
    assert other_tenant.account.name not in body
