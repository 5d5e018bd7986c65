"""Issue 16, finding 8 (low), for connection settings: changes to how accounts reach CallRail were not audited.

Base URL, authentication, key replaced, budgets (account and key level), credentials created and removed,
gateway connections created and removed, accounts imported and sync paused: each is now in the audit log
with who, when and a readable before/after — and never the key itself (a short fingerprint stands in).
"""

import json

import pytest
import requests
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.credentials.models import Credential, GatewayConnection
from apps.sandbox.keys import MULTI_ACCOUNT_KEY
from apps.sandbox.seed import DEMO_ACCOUNTS, GATEWAY_KEY
from apps.tenancy.models import ClientAccount

pytestmark = pytest.mark.django_db

THREE = [d.account_id for d in DEMO_ACCOUNTS[:3]]


def events(agency, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(agency=agency, action=action).order_by("pk"))


def test_every_connection_setting_change_is_audited_and_no_key_is_ever_logged(login, tenant, sandbox, settings):
    settings.CALLRAIL_GATEWAY_CONTROL_URL = f"{sandbox.url}/ctrl"
    new_key = requests.post(f"{sandbox.url}/_sandbox/keys", json={"accounts": THREE}, timeout=10).json()["key"]
    client = login(tenant.admin)

    client.post(reverse("credentials:create"), {"name": "Agency key", "auth_mode": "direct", "key_limit_enabled": "on",
                                                "api_key": MULTI_ACCOUNT_KEY, "base_url": sandbox.url})  # fmt: skip
    credential = Credential.objects.get(agency=tenant.agency, name="Agency key")
    client.post(reverse("credentials:import", args=[credential.pk]), {"accounts": THREE[:2], "start_sync": ""})
    account = ClientAccount.objects.for_account(
        ClientAccount.objects.visible_to(tenant.admin).get(callrail_account_id=THREE[0])
    ).get()
    client.post(reverse("credentials:key", args=[credential.pk]), {"api_key": new_key, "base_url": sandbox.url})
    client.post(reverse("credentials:settings", args=[credential.pk]),
                {"name": "Agency key", "general_hour": "2000", "general_day": "20000"})  # budget per key off, limits
    client.post(reverse("portal:account_edit", args=[account.pk]),
                {"name": account.name, "time_zone": "America/Chicago", "credential": credential.pk,
                 "general_hour": "1500"})  # fmt: skip
    client.post(reverse("portal:account_sync_pause", args=[account.pk]), {"enabled": "0"})

    gateway = Credential.objects.create(agency=tenant.agency, name="Gateway", auth_mode="gateway",
                                        api_key=GATEWAY_KEY, base_url=sandbox.url)  # fmt: skip
    client.post(reverse("credentials:connection_create", args=[gateway.pk]), {"label": "Harbor"})
    connection = GatewayConnection.objects.get(credential=gateway)
    client.post(reverse("credentials:connection_remove", args=[gateway.pk, connection.pk]), {"confirm": "yes"})
    unused = Credential.objects.create(agency=tenant.agency, name="Old key", api_key="old-secret-key-0001")
    client.post(reverse("credentials:delete", args=[unused.pk]))

    agency = tenant.agency
    created = events(agency, "credential.create")[-1]
    assert created.actor == tenant.admin
    assert created.after["API base URL"] == sandbox.url
    assert created.after["authentication"] == "CallRail API key"
    assert created.after["key"].startswith("fingerprint ")
    imported = events(agency, "client_account.import")
    assert sorted(e.after["CallRail account"] for e in imported) == sorted(THREE[:2])
    assert {e.client_account_id for e in imported} >= {account.pk}
    replaced = events(agency, "credential.key_replace")[-1]
    assert replaced.before["key"] != replaced.after["key"]
    assert (replaced.before["API base URL"], replaced.after["API base URL"]) == (sandbox.url, sandbox.url)
    budget = events(agency, "credential.update")[-1]
    assert (budget.before["budget per key"], budget.after["budget per key"]) == ("on", "off")
    assert budget.after["key limits"] == {"general": {"hour": 2000, "day": 20000}}
    moved = events(agency, "client_account.update")[-1]
    assert moved.client_account_id == account.pk
    assert (moved.before["time zone"], moved.after["time zone"]) == (account.time_zone, "America/Chicago")
    assert moved.after["account limits"] == {"general": {"hour": 1500}}
    assert events(agency, "client_account.sync_pause")[-1].client_account_id == account.pk
    assert events(agency, "connection.create")[-1].after["label"] == "Harbor"
    assert events(agency, "connection.remove")[-1].after["status"] == "Removed"
    assert events(agency, "credential.delete")[-1].before["name"] == "Old key"
    assert all(e.actor == tenant.admin for e in AuditEvent.objects.filter(agency=agency, action__in=[
        "credential.create", "credential.key_replace", "credential.update", "client_account.update",
        "connection.create", "connection.remove", "credential.delete", "client_account.import",
    ])), "every event names who did it"  # fmt: skip
    logged = json.dumps([[e.before, e.after, e.object_repr] for e in AuditEvent.objects.filter(agency=agency)])
    for secret in (MULTI_ACCOUNT_KEY, new_key, GATEWAY_KEY, "old-secret-key-0001"):
        assert secret not in logged


def test_the_audit_log_page_shows_the_changes_readably(login, tenant, sandbox):
    client = login(tenant.owner)
    client.post(reverse("credentials:create"), {"name": "Agency key", "auth_mode": "direct",
                                                "api_key": MULTI_ACCOUNT_KEY, "base_url": sandbox.url})  # fmt: skip
    body = client.get(reverse("audit:agency_log")).content.decode()
    assert "credential.create" in body
    assert "API base URL" in body
    assert sandbox.url in body
    assert MULTI_ACCOUNT_KEY not in body
