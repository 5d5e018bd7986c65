"""Portal pages: sign-in, dashboard, agency switcher, client account pages and form validation."""

import pytest
from django.core import mail
from django.urls import reverse

from apps.tenancy.models import ClientAccount, Role
from tests.factories import TEST_PASSWORD, MembershipFactory

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

VALID_ACC = "ACC8154748ae6bd4e278a7cddd38a662f4f"


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


def account_form(**overrides) -> dict:
    data = {
        "name": "Bright Smiles",
        "callrail_account_id": VALID_ACC,
        "auth_mode": "direct",
        "api_key": "abc123secretkey",
        "connection_id": "",
        "base_url": "",
        "time_zone": "America/Chicago",
    }
    return {**data, **overrides}


def test_owner_connects_an_account(login, tenant):
    response = login(tenant.owner).post(reverse("portal:account_create"), account_form())
    account = tenant.agency.client_accounts.get(callrail_account_id=VALID_ACC)
    assert response.status_code == 302
    assert response.url == reverse("portal:account_detail", args=[account.pk])
    assert account.api_key == "abc123secretkey"
    assert account.time_zone == "America/Chicago"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"callrail_account_id": "ACC123"}, "callrail_account_id", "ACC followed by 32 lowercase hex"),
        ({"callrail_account_id": "COM8154748ae6bd4e278a7cddd38a662f4f"}, "callrail_account_id", "ACC followed"),
        ({"api_key": ""}, "api_key", "Enter the API key"),
        ({"api_key": "   "}, "api_key", "Enter the API key"),
        ({"name": ""}, "name", "This field is required"),
        ({"base_url": "not a url"}, "base_url", "Enter a valid URL"),
    ],
)
def test_connect_form_rejects_bad_input_beside_the_field(login, tenant, overrides, field, message):
    response = login(tenant.owner).post(reverse("portal:account_create"), account_form(**overrides))
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    body = response.content.decode()
    assert f'id="id_{field}-error"' in body or f"id_{field}_error" in body
    assert overrides.get("name", "Bright Smiles") in body  # what was typed is kept
    assert tenant.agency.client_accounts.filter(name="Bright Smiles").count() == 0


def test_connecting_the_same_callrail_account_twice_is_refused(login, tenant):
    client = login(tenant.owner)
    client.post(reverse("portal:account_create"), account_form())
    response = client.post(reverse("portal:account_create"), account_form(name="Again"))
    assert response.status_code == 200
    assert "already has a client account" in response.content.decode()


def test_edit_with_empty_key_keeps_the_stored_key(login, tenant):
    old_key = tenant.account.api_key
    url = reverse("portal:account_edit", args=[tenant.account.pk])
    response = login(tenant.admin).post(
        url, account_form(callrail_account_id=tenant.account.callrail_account_id, api_key="", name="Renamed")
    )
    assert response.status_code == 302
    tenant.account.refresh_from_db()
    assert (tenant.account.name, tenant.account.api_key) == ("Renamed", old_key)


def test_gateway_mode_keeps_connection_id_and_direct_mode_drops_it(login, tenant):
    client = login(tenant.owner)
    client.post(reverse("portal:account_create"), account_form(auth_mode="gateway", connection_id="conn-1"))
    account = ClientAccount.objects.for_account(tenant.agency.client_accounts.get(callrail_account_id=VALID_ACC))
    assert account.get().connection_id == "conn-1"
    assert account.get().effective_base_url == "https://gateway.maton.ai"


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
