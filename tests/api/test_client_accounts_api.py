"""REST API: token authentication, scoping, writes through the service, schema and docs."""

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.portal.api import TenantModelViewSet
from apps.sandbox.seed import DEMO_ACCOUNTS
from apps.tenancy.models import ClientAccount
from apps.tenancy.services import api_token_create, api_token_revoke
from tests.factories import CredentialFactory

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

LIST = "/api/v1/client-accounts/"
ACC = DEMO_ACCOUNTS[0].account_id


def api_for(user) -> APIClient:
    _, key = api_token_create(user=user, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def names(response) -> set[str]:
    return {row["name"] for row in response.json()["results"]}


def test_token_sees_exactly_what_its_user_sees(tenant, other_tenant):
    assert names(api_for(tenant.owner).get(LIST)) == {tenant.account.name, tenant.other_account.name}
    assert names(api_for(tenant.client_user).get(LIST)) == {tenant.account.name}
    assert names(api_for(other_tenant.staff).get(LIST)) == {other_tenant.account.name, other_tenant.other_account.name}


def test_other_tenants_account_is_404_and_key_never_returned(tenant, other_tenant):
    client = api_for(tenant.owner)
    assert client.get(f"{LIST}{other_tenant.account.pk}/").status_code == 404
    body = client.get(f"{LIST}{tenant.account.pk}/").json()
    assert "api_key" not in body
    assert body["masked_api_key"].endswith(tenant.account.api_key[-4:])
    general = next(c for c in body["budget"]["classes"] if c["limit_class"] == "general")
    assert general["hour_limit"] == 900  # 90% of CallRail's 1,000 an hour


def test_missing_wrong_and_revoked_tokens_are_refused(tenant):
    assert APIClient().get(LIST).status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token ap_nope")
    assert bad.get(LIST).status_code == 401
    token, key = api_token_create(user=tenant.owner, name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(LIST).status_code == 200
    api_token_revoke(token=token)
    assert client.get(LIST).status_code == 401


@pytest.fixture
def sandbox_credential(tenant, sandbox):
    return CredentialFactory(agency=tenant.agency, api_key=DEMO_ACCOUNTS[0].api_key, base_url=sandbox.url)


def test_owner_creates_an_account_through_a_credential_and_bad_input_is_a_clear_400(tenant, sandbox_credential):
    client = api_for(tenant.owner)
    data = {"agency": tenant.agency.slug, "name": "API Dental", "callrail_account_id": ACC,
            "credential": sandbox_credential.pk}  # fmt: skip
    response = client.post(LIST, data, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    account = ClientAccount.objects.for_account(body["id"]).get()
    assert account.credential == sandbox_credential
    assert (body["auth_mode"], body["base_url"]) == ("direct", sandbox_credential.base_url)
    assert account.time_zone == "America/Denver"  # read from the account's first company in CallRail
    response = client.post(LIST, {**data, "callrail_account_id": "ACC1"}, format="json")
    assert response.status_code == 400
    assert "ACC followed by 32" in str(response.json()["callrail_account_id"])
    response = client.post(LIST, {**data, "callrail_account_id": DEMO_ACCOUNTS[1].account_id}, format="json")
    assert response.status_code == 400
    assert "the key does not reach this account" in str(response.json())
    response = client.post(LIST, {**data, "credential": None}, format="json")
    assert response.status_code == 400
    assert "credential" in response.json()


def test_key_and_destination_are_not_writable_on_an_account(tenant):
    """The stored key may only go where it was saved for: an account's base URL, key or authentication are
    its credential's, and changing them through the account is refused."""
    client = api_for(tenant.owner)
    for field, value in (("base_url", "http://127.0.0.1:9"), ("api_key", "k"), ("auth_mode", "gateway")):
        response = client.patch(f"{LIST}{tenant.account.pk}/", {field: value}, format="json")
        assert response.status_code == 400, field
        assert "belong to the account's credential" in str(response.json()[field])
    account = ClientAccount.objects.for_account(tenant.account).get()
    assert account.effective_base_url == "https://api.callrail.com"


def test_clients_staff_and_other_agencies_cannot_write(tenant, other_tenant):
    data = {"agency": tenant.agency.slug, "name": "X", "callrail_account_id": ACC,
            "credential": tenant.account.credential_id}  # fmt: skip
    assert api_for(tenant.staff).post(LIST, data, format="json").status_code == 403
    assert (
        api_for(tenant.client_user).patch(f"{LIST}{tenant.account.pk}/", {"name": "Y"}, format="json").status_code
        == 403
    )
    response = api_for(other_tenant.owner).post(LIST, data, format="json")
    assert response.status_code == 400  # neither the agency nor the credential are among their choices
    assert not ClientAccount.objects.unscoped(reason="admin").filter(callrail_account_id=ACC).exists()


def test_schema_and_interactive_docs_are_served(tenant, login):
    client = login(tenant.owner)
    schema = client.get(reverse("api-schema"), {"format": "json"})
    assert schema.status_code == 200
    assert "/api/v1/client-accounts/" in schema.json()["paths"]
    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.content.decode())
    assert assets
    # vendored, no CDN; the start-up script is our own URL (no inline script under the CSP)
    assert all(url.startswith(("/static/", "/api/docs/?script")) for url in assets), assets


def test_a_viewset_cannot_override_get_queryset():
    with pytest.raises(TypeError, match="must not override get_queryset"):

        class Leaky(TenantModelViewSet):
            def get_queryset(self):
                return ClientAccount.objects.unscoped(reason="admin")
