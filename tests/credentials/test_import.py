"""Paste the agency key once, see the accounts it reaches, import the chosen ones in one step — and every bad
input answered with what happened and what to do, with nothing half-imported. Against the sandbox over HTTP."""

from html import escape

import pytest
import requests
from django.urls import reverse

from apps.credentials.models import Credential
from apps.credentials.services import ImportChoice, accounts_import, credential_reachable_accounts
from apps.sandbox.keys import MULTI_ACCOUNT_KEY
from apps.sandbox.seed import DEMO_ACCOUNTS
from apps.sync.models import SyncRun
from apps.tenancy.models import ClientAccount, Role
from tests.factories import ClientAccountFactory, MembershipFactory

from .conftest import THREE

pytestmark = pytest.mark.django_db


def company_zones(sandbox, account_id: str) -> set[str]:
    return {c["time_zone"] for c in sandbox.state.accounts[account_id].companies.values()}


def test_paste_the_key_see_its_accounts_and_import_them_in_one_step(login, tenant, sandbox):
    client = login(tenant.owner)
    response = client.post(reverse("credentials:create"), {
        "name": "Agency key", "auth_mode": "direct", "api_key": MULTI_ACCOUNT_KEY, "base_url": sandbox.url,
        "key_limit_enabled": "on",
    })  # fmt: skip
    credential = Credential.objects.get(agency=tenant.agency, name="Agency key")
    assert response.status_code == 302
    assert response.url == reverse("credentials:import", args=[credential.pk])
    page = client.get(response.url)
    body = page.content.decode()
    for demo in DEMO_ACCOUNTS[:3]:
        assert escape(demo.name) in body
        assert demo.account_id in body
    assert escape(DEMO_ACCOUNTS[3].name) not in body
    response = client.post(response.url, {"accounts": THREE, "start_sync": ""})
    assert response.status_code == 302, response.content.decode()
    accounts = ClientAccount.objects.visible_to(tenant.owner, tenant.agency).filter(credential=credential)
    assert sorted(a.callrail_account_id for a in accounts) == sorted(THREE)
    for account in accounts:
        assert account.time_zone in company_zones(sandbox, account.callrail_account_id)
        assert account.api_key == MULTI_ACCOUNT_KEY  # the key is stored once, on the credential
    assert not SyncRun.objects.visible_to(tenant.owner).exists()  # "start the first sync" was unticked
    # the list now marks them as connected here
    assert client.get(reverse("credentials:import", args=[credential.pk])).content.decode().count("connected here") == 3


def test_the_list_says_where_each_account_is_connected_already(tenant, other_tenant, agency_key):
    ClientAccountFactory(agency=tenant.agency, callrail_account_id=THREE[0], name="Summit (ours)")
    ClientAccountFactory(agency=other_tenant.agency, callrail_account_id=THREE[1], name="Lakeside (theirs)")
    MembershipFactory(user=tenant.owner, agency=other_tenant.agency, role=Role.STAFF)
    reachable = {a.callrail_account_id: a for a in credential_reachable_accounts(credential=agency_key,
                                                                                 user=tenant.owner)}  # fmt: skip
    assert reachable[THREE[0]].existing.name == "Summit (ours)"
    assert not reachable[THREE[0]].importable
    assert reachable[THREE[1]].elsewhere == [other_tenant.agency.name]
    assert reachable[THREE[1]].importable
    assert reachable[THREE[2]].existing is None
    assert reachable[THREE[2]].elsewhere == []
    # a user who does not belong to the other agency is not told about it
    hidden = credential_reachable_accounts(credential=agency_key, user=tenant.admin)
    assert all(a.elsewhere == [] for a in hidden)


def test_a_key_that_reaches_no_account_is_refused_and_nothing_is_kept(login, tenant, sandbox):
    empty = requests.post(f"{sandbox.url}/_sandbox/keys", json={"accounts": []}, timeout=10).json()["key"]
    response = login(tenant.owner).post(reverse("credentials:create"), {
        "name": "Nothing", "auth_mode": "direct", "api_key": empty, "base_url": sandbox.url,
    })  # fmt: skip
    assert response.status_code == 400
    body = response.content.decode()
    assert "reaches no account" in body
    assert "Use the API key of a CallRail user who has access to the client accounts" in body
    assert not Credential.objects.filter(name="Nothing").exists()


def test_a_wrong_key_is_refused_and_nothing_is_kept(login, tenant, sandbox):
    response = login(tenant.owner).post(reverse("credentials:create"), {
        "name": "Typo", "auth_mode": "direct", "api_key": "not-a-key-callrail-knows", "base_url": sandbox.url,
    })  # fmt: skip
    assert response.status_code == 400
    assert "CallRail refused the key" in response.content.decode()
    assert "Typo" in response.content.decode()  # what was typed stays (the key itself is never rendered back)
    assert "not-a-key-callrail-knows" not in response.content.decode()
    assert not Credential.objects.filter(name="Typo").exists()


def test_an_account_already_connected_in_this_agency_imports_nothing(tenant, agency_key):
    ClientAccountFactory(agency=tenant.agency, callrail_account_id=THREE[1], name="Lakeside (already here)")
    with pytest.raises(Exception, match="already connected in Acme as “Lakeside \\(already here\\)”") as caught:
        accounts_import(credential=agency_key, choices=[ImportChoice(THREE[0]), ImportChoice(THREE[1])])
    assert "Nothing was imported." in caught.value.messages
    assert not ClientAccount.objects.visible_to(tenant.owner).filter(callrail_account_id=THREE[0]).exists()


def test_an_account_the_key_does_not_reach_rolls_the_whole_import_back(tenant, agency_key):
    outside = DEMO_ACCOUNTS[3].account_id
    with pytest.raises(Exception, match="the key does not reach this account") as caught:
        accounts_import(credential=agency_key, choices=[ImportChoice(THREE[0]), ImportChoice(outside, "Harbor")])
    assert caught.value.messages[-1] == "Nothing was imported."
    assert not ClientAccount.objects.visible_to(tenant.owner).filter(credential=agency_key).exists()


def test_the_api_lists_and_imports_with_the_same_rules(tenant, agency_key):
    from rest_framework.test import APIClient

    from apps.tenancy.services import api_token_create

    _, token = api_token_create(user=tenant.admin, name="script")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    listed = api.get(f"/api/v1/credentials/{agency_key.pk}/accounts/").json()
    assert sorted(a["callrail_account_id"] for a in listed) == sorted(THREE)
    answer = api.post(f"/api/v1/credentials/{agency_key.pk}/import/",
                      {"accounts": [{"id": THREE[2], "name": "Brightline"}], "start_sync": False}, format="json")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["accounts"][0]["credential"] == agency_key.pk
    again = api.post(f"/api/v1/credentials/{agency_key.pk}/import/", {"accounts": [{"id": THREE[2]}]}, format="json")
    assert again.status_code == 400
    assert "already connected" in str(again.json())
    detail = api.get(f"/api/v1/credentials/{agency_key.pk}/").json()
    assert "api_key" not in detail
    assert detail["masked_api_key"].endswith(MULTI_ACCOUNT_KEY[-4:])
    assert detail["account_count"] == 1
    assert detail["key_budget"]["classes"][0]["hour_spent"] >= 2  # the key's own budget shows its requests
    # staff, clients and other agencies see no credentials at all
    _, staff_token = api_token_create(user=tenant.staff, name="staff")
    staff = APIClient()
    staff.credentials(HTTP_AUTHORIZATION=f"Token {staff_token}")
    assert staff.get("/api/v1/credentials/").json()["results"] == []
    assert staff.get(f"/api/v1/credentials/{agency_key.pk}/accounts/").status_code == 404


def test_the_credential_page_shows_its_accounts_and_its_key_budget(login, tenant, agency_key):
    accounts_import(credential=agency_key, choices=[ImportChoice(a) for a in THREE], start_sync=False)
    body = login(tenant.owner).get(reverse("credentials:detail", args=[agency_key.pk])).content.decode()
    assert "Key budget (shared by its accounts)" in body
    assert MULTI_ACCOUNT_KEY not in body
    assert agency_key.masked_api_key in body
    for demo in DEMO_ACCOUNTS[:3]:
        assert demo.account_id in body
    dashboard = login(tenant.owner).get(reverse("portal:dashboard")).content.decode()
    assert "key " in dashboard
    assert "Agency key" in dashboard


def test_a_new_key_must_reach_every_account_of_the_credential(login, tenant, sandbox, agency_key):
    accounts_import(credential=agency_key, choices=[ImportChoice(a) for a in THREE], start_sync=False)
    two = requests.post(f"{sandbox.url}/_sandbox/keys", json={"accounts": THREE[:2]}, timeout=10).json()["key"]
    url = reverse("credentials:key", args=[agency_key.pk])
    client = login(tenant.owner)
    refused = client.post(url, {"api_key": two, "base_url": sandbox.url})
    assert refused.status_code == 400
    expected = f"The new key does not reach {escape(DEMO_ACCOUNTS[2].name)}: nothing was changed"
    assert expected in refused.content.decode()
    assert Credential.objects.get(pk=agency_key.pk).api_key == MULTI_ACCOUNT_KEY
    three = requests.post(f"{sandbox.url}/_sandbox/keys", json={"accounts": THREE}, timeout=10).json()["key"]
    assert client.post(url, {"api_key": three, "base_url": sandbox.url}).status_code == 302
    assert Credential.objects.get(pk=agency_key.pk).api_key == three


def test_a_credential_in_use_cannot_be_removed(login, tenant, agency_key):
    accounts_import(credential=agency_key, choices=[ImportChoice(THREE[0])], start_sync=False)
    client = login(tenant.owner)
    response = client.post(reverse("credentials:delete", args=[agency_key.pk]), follow=True)
    assert "1 client account uses this credential: move it to another credential or delete it first" in \
        response.content.decode()  # fmt: skip
    assert Credential.objects.filter(pk=agency_key.pk).exists()


def test_only_owners_and_admins_of_the_agency_reach_credential_pages(login, tenant, other_tenant, agency_key):
    detail = reverse("credentials:detail", args=[agency_key.pk])
    for user in (tenant.staff, tenant.client_user, tenant.restricted_staff):
        assert login(user).get(detail).status_code == 403
    assert login(other_tenant.owner).get(detail).status_code == 404
    assert login(tenant.admin).get(detail).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/credentials/", "/api/v1/client-accounts/"])
def test_an_agency_slug_with_a_nul_byte_is_a_400_not_a_database_error(tenant, path):
    """The schema fuzzing found it: PostgreSQL refuses NUL in a query, so the slug look-up answered 500."""
    from rest_framework.test import APIClient

    from apps.tenancy.services import api_token_create

    _, token = api_token_create(user=tenant.admin, name="script")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    answer = api.post(path, {"agency": "ac\x00me", "name": "x", "auth_mode": "direct", "api_key": "k"}, format="json")
    assert answer.status_code == 400
    assert "agency" in answer.json()
