"""The agency flows end to end, against the sandbox over HTTP with real Celery workers: one key for three
accounts synced, the OAuth connection flow from create to ACTIVE to import, a revoked connection while syncs
run (accounts paused and flagged, one email), and a key-level limit shared by three accounts never exceeded."""

from __future__ import annotations

import pytest
import requests
from django.urls import reverse

from apps.calls.models import Call
from apps.credentials.models import ConnectionStatus, Credential, GatewayConnection
from apps.credentials.services import ImportChoice, accounts_import, connection_create, credential_create
from apps.sandbox.keys import MULTI_ACCOUNT_KEY
from apps.sandbox.seed import DEMO_ACCOUNTS
from apps.sync.models import SyncKind, SyncRun, SyncStatus
from apps.sync.services import sync_dispatch, sync_request
from apps.tenancy.models import ClientAccount
from tests.sync.conftest import control
from tests.workers import wait_for

from .conftest import THREE

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FINISHED = [SyncStatus.SUCCEEDED, SyncStatus.PARTIAL, SyncStatus.FAILED]


def runs_of(accounts) -> list[SyncRun]:
    return [SyncRun.objects.for_account(a).order_by("-pk").first() for a in accounts]


def all_finished(accounts):
    runs = runs_of(accounts)
    return runs if all(r is not None and r.status in FINISHED for r in runs) else None


def test_import_three_accounts_from_one_key_and_sync_them(login, tenant, sandbox, celery_worker):
    client = login(tenant.owner)
    client.post(reverse("credentials:create"), {"name": "Agency key", "auth_mode": "direct",
                                                "api_key": MULTI_ACCOUNT_KEY, "base_url": sandbox.url})  # fmt: skip
    credential = Credential.objects.get(agency=tenant.agency, name="Agency key")
    response = client.post(reverse("credentials:import", args=[credential.pk]), {"accounts": THREE, "start_sync": "on"})
    assert response.status_code == 302
    accounts = list(ClientAccount.objects.visible_to(tenant.owner).filter(credential=credential))
    assert len(accounts) == 3
    runs = wait_for(lambda: all_finished(accounts), timeout=240, step=0.5, what="three full syncs")
    assert [r.status for r in runs] == [SyncStatus.SUCCEEDED] * 3, [r.errors for r in runs]
    assert all(r.kind == SyncKind.FULL for r in runs)
    from apps.companies.models import Company

    for account in accounts:
        mirrored = set(Company.objects.for_account(account).values_list("callrail_id", flat=True))
        assert mirrored == set(sandbox.state.accounts[account.callrail_account_id].companies)
    # every request went out with the one stored key, to the credential's destination
    log = control(sandbox, "GET", "requests", limit=100000)["requests"]
    assert {r["account_id"] for r in log if r["account_id"]} == set(THREE)
    usage = control(sandbox, "GET", f"usage/key?key={MULTI_ACCOUNT_KEY}")
    assert usage["all"]["requests"] == sum(r.requests for r in runs) + 1 + 1 + 3  # syncs, key check, listing, zones


def test_the_oauth_flow_from_create_to_active_to_import(login, tenant, sandbox, gateway_control, celery_worker):
    gateway_key = control(sandbox, "POST", "gateway/keys")["key"]
    control(sandbox, "POST", "gateway", grant_accounts=[DEMO_ACCOUNTS[1].account_id, DEMO_ACCOUNTS[3].account_id])
    client = login(tenant.owner)
    created = client.post(reverse("credentials:create"), {"name": "Gateway", "auth_mode": "gateway",
                                                          "api_key": gateway_key, "base_url": sandbox.url})  # fmt: skip
    credential = Credential.objects.get(agency=tenant.agency, name="Gateway")
    assert created.url == reverse("credentials:detail", args=[credential.pk])
    response = client.post(reverse("credentials:connection_create", args=[credential.pk]), {"label": "Lakeside"})
    connection = GatewayConnection.objects.get(credential=credential)
    assert response.url == reverse("credentials:connection", args=[credential.pk, connection.pk])
    page = client.get(response.url).content.decode()
    assert connection.authorization_url in page
    assert "Waiting for the account" in page
    # the client opens the link (in their browser) and authorises; the worker notices by itself
    assert requests.get(connection.authorization_url, timeout=10).status_code == 200
    wait_for(lambda: GatewayConnection.objects.get(pk=connection.pk).status == ConnectionStatus.ACTIVE,
             timeout=60, step=0.3, what="the watcher to see the connection active")  # fmt: skip
    status = client.get(reverse("credentials:connection_status", args=[credential.pk, connection.pk]))
    assert "Import the accounts it reaches" in status.content.decode()
    listing = client.get(reverse("credentials:import", args=[credential.pk]) + f"?connection={connection.pk}")
    body = listing.content.decode()
    assert DEMO_ACCOUNTS[1].account_id in body
    assert DEMO_ACCOUNTS[3].account_id in body
    imported = client.post(reverse("credentials:import", args=[credential.pk]),
                           {"connection": connection.pk, "accounts": [DEMO_ACCOUNTS[1].account_id], "start_sync": "on"})
    assert imported.status_code == 302, imported.content.decode()
    account = ClientAccount.objects.visible_to(tenant.owner).get(callrail_account_id=DEMO_ACCOUNTS[1].account_id)
    assert (account.credential_id, account.gateway_connection_id) == (credential.pk, connection.pk)
    run = wait_for(lambda: all_finished([account]), timeout=180, step=0.5, what="the first sync")[0]
    assert run.status == SyncStatus.SUCCEEDED, run.errors
    gateway_requests = [r for r in control(sandbox, "GET", "requests", limit=100000)["requests"]
                        if r["path"].startswith("/callrail/v3/a/")]  # fmt: skip
    assert gateway_requests  # it synced through the gateway
    assert all(r["account_id"] == DEMO_ACCOUNTS[1].account_id for r in gateway_requests)


def test_a_connection_that_never_becomes_active_is_answered(login, tenant, sandbox, gateway_control, settings):
    gateway_key = control(sandbox, "POST", "gateway/keys")["key"]
    control(sandbox, "POST", "gateway", expire_after_seconds=0.5)
    credential = credential_create(agency=tenant.agency, name="Gateway", auth_mode="gateway", api_key=gateway_key,
                                   base_url=sandbox.url)  # fmt: skip
    connection = connection_create(credential=credential, label="Harbor")
    import time

    time.sleep(0.6)
    client = login(tenant.owner)
    client.post(reverse("credentials:connection_check", args=[credential.pk, connection.pk]))
    page = client.get(reverse("credentials:connection", args=[credential.pk, connection.pk])).content.decode()
    assert "Expired" in page
    assert "not used within" in page
    assert "Create a new link" in page
    listing = client.get(reverse("credentials:import", args=[credential.pk]) + f"?connection={connection.pk}")
    assert listing.status_code == 409
    assert "is not active (expired): nothing can be imported through it" in listing.content.decode()
    assert not ClientAccount.objects.visible_to(tenant.owner).filter(credential=credential).exists()


def test_revoked_connection_pauses_and_flags_its_accounts_and_emails_the_admins_once(
    tenant, sandbox, gateway_control, smtp_sink, mail_worker
):
    from apps.sandbox.seed import GATEWAY_KEY

    sandbox.reset(seed=1, profile="small", calls_per_account=1500)  # long enough to be mid-sync when revoked
    credential = credential_create(agency=tenant.agency, name="Gateway", auth_mode="gateway", api_key=GATEWAY_KEY,
                                   base_url=sandbox.url)  # fmt: skip
    connection = GatewayConnection.objects.create(credential=credential, connection_id=DEMO_ACCOUNTS[0].connection_id,
                                                  status="ACTIVE", label="Summit")  # fmt: skip
    other = GatewayConnection.objects.create(credential=credential, connection_id=DEMO_ACCOUNTS[1].connection_id,
                                             status="ACTIVE", label="Lakeside")  # fmt: skip
    # one CallRail login reaching one account each: two accounts of the same agency through the same connection
    # would be the same login; here the revoked one serves Summit, the other serves Lakeside
    summit = accounts_import(credential=credential, start_sync=False,
                             choices=[ImportChoice(DEMO_ACCOUNTS[0].account_id, connection=connection)]).accounts[0]
    lakeside = accounts_import(credential=credential, start_sync=False,
                               choices=[ImportChoice(DEMO_ACCOUNTS[1].account_id, connection=other)]).accounts[0]
    control(sandbox, "POST", "faults", path_pattern="/calls.json", latency_ms=300)
    runs = [sync_request(account=a, kind=SyncKind.FULL)[0] for a in (summit, lakeside)]
    wait_for(lambda: SyncRun.objects.for_account(summit).filter(pk=runs[0].pk, status=SyncStatus.RUNNING).exists()
             and Call.objects.for_account(summit).exists(), timeout=60,
             what="the sync to be under way (a page of calls committed)")  # fmt: skip
    control(sandbox, "POST", f"gateway/connections/{connection.connection_id}/revoke", reason="Access withdrawn")
    finished = wait_for(lambda: all_finished([summit]), timeout=120, what="the sync to stop")[0]
    control(sandbox, "DELETE", "faults")
    assert finished.status in (SyncStatus.FAILED, SyncStatus.PARTIAL)
    summit = ClientAccount.objects.for_account(summit).get()
    assert "is revoked" in summit.connection_error
    assert "Access withdrawn" in summit.connection_error
    connection.refresh_from_db()
    assert (connection.status, connection.error) == ("REVOKED", summit.connection_error)
    # the schedule leaves it alone; the account of the other connection syncs on
    before = SyncRun.objects.for_account(summit).count()
    sync_dispatch()
    assert SyncRun.objects.for_account(summit).count() == before
    lakeside_run = wait_for(lambda: all_finished([lakeside]), timeout=180, what="the other account's sync")[0]
    assert lakeside_run.status == SyncStatus.SUCCEEDED, lakeside_run.errors
    assert ClientAccount.objects.for_account(lakeside).get().connection_error == ""
    # once: more syncs failing the same way send nothing more
    sync_request(account=summit, kind=SyncKind.INCREMENTAL)
    wait_for(lambda: SyncRun.objects.for_account(summit).filter(status__in=FINISHED).count() >= 2, timeout=60)
    wait_for(lambda: smtp_sink.to(tenant.owner.email), timeout=30, what="the email to the owner")
    assert len(smtp_sink.to(tenant.owner.email)) == 1
    assert len(smtp_sink.to(tenant.admin.email)) == 1
    assert smtp_sink.to(tenant.staff.email) == []
    message = smtp_sink.to(tenant.owner.email)[0]
    assert "A CallRail connection stopped" in message["Subject"]
    assert summit.name in message.get_content()
    assert GATEWAY_KEY not in message.as_string()


def test_a_key_limit_of_40_an_hour_shared_by_three_accounts_is_never_exceeded(tenant, sandbox, monkeypatch, settings):
    """CallRail (the sandbox) allows the key 40 requests in any sliding hour across its accounts; a full sync
    of all three at once, by a real worker, must never make it refuse one."""
    from tests.workers import start_worker

    sandbox.reset(seed=1, profile="small", calls_per_account=4000)  # ~30 requests per account for a full sync
    scale = 360  # an hour lasts ten seconds, in the sandbox and in the portal's budget alike
    control(sandbox, "POST", "rate-limits", time_scale=scale)
    control(sandbox, "POST", "rate-limits/keys", key=MULTI_ACCOUNT_KEY, limits={"general": {"hour": 40, "day": 100000}})
    settings.CALLRAIL_BUDGET_TIME_SCALE = scale
    monkeypatch.setenv("CALLRAIL_BUDGET_TIME_SCALE", str(scale))
    credential = credential_create(agency=tenant.agency, name="Agency key", auth_mode="direct",
                                   api_key=MULTI_ACCOUNT_KEY, base_url=sandbox.url,
                                   budget_overrides={"general": {"hour": 40, "day": 100000}})  # fmt: skip
    accounts = accounts_import(credential=credential, choices=[ImportChoice(a) for a in THREE]).accounts
    worker = start_worker()
    try:
        runs = wait_for(lambda: all_finished(accounts), timeout=400, step=1, what="three full syncs")
    finally:
        worker.stop()
    assert [r.status for r in runs] == [SyncStatus.SUCCEEDED] * 3, [r.errors for r in runs]
    usage = control(sandbox, "GET", f"usage/key?key={MULTI_ACCOUNT_KEY}")
    total = sum(r.requests for r in runs)
    assert total > 80  # enough to need more than two of the key's hours
    assert usage["general"]["rejected"] == 0  # CallRail never had to refuse one
    assert 0 < usage["all"]["max_per_hour"] <= 40
    assert sum(r.rate_limited for r in runs) == 0
