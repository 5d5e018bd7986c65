"""In a real browser (headless Chromium, Playwright, a live server): "Connect with CallRail" shows the link,
copies it, and the status panel turns to "Active" with the import offer by itself once the client authorised
(HTMX polls the panel; the gateway is asked by the watcher, here called in-process)."""

from __future__ import annotations

import pytest
import requests

from apps.credentials.models import Credential, GatewayConnection
from apps.credentials.services import connection_watch_step
from apps.sandbox.seed import DEMO_ACCOUNTS
from tests.factories import TEST_PASSWORD
from tests.portal.test_browser import page, shot  # noqa: F401 - the Chromium fixture
from tests.sync.conftest import control

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_connect_with_callrail_in_the_browser(page, live_server, tenant, sandbox, gateway_control):  # noqa: F811
    gateway_key = control(sandbox, "POST", "gateway/keys")["key"]
    control(sandbox, "POST", "gateway", grant_accounts=[DEMO_ACCOUNTS[2].account_id])
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", tenant.owner.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/agency/credentials/new/?kind=gateway")
    page.fill("input[name=name]", "Gateway")
    page.fill("input[name=api_key]", gateway_key)
    page.fill("input[name=base_url]", sandbox.url)
    page.click("text=Check and save")
    page.wait_for_url(f"{live_server.url}/agency/credentials/*/")
    credential = Credential.objects.get(agency=tenant.agency, name="Gateway")
    assert credential.auth_mode == "gateway"
    assert credential.key_limit_enabled  # ticked by default
    page.fill("input[name=label]", "Brightline")
    page.click("text=Connect with CallRail")
    page.wait_for_url(f"{live_server.url}/agency/credentials/{credential.pk}/connections/*/")
    connection = GatewayConnection.objects.get(credential=credential)
    assert page.locator("#authorization-url").input_value() == connection.authorization_url
    assert "Waiting for" in page.locator("#connection-status").inner_text()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.click("button[data-copy=authorization-url]")
    page.wait_for_function("document.querySelector('[data-copy]').textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == connection.authorization_url
    shot(page, "connection-pending")

    assert requests.get(connection.authorization_url, timeout=10).status_code == 200  # the client authorises
    assert connection_watch_step(connection_pk=connection.pk) is None  # the watcher sees it: done
    page.wait_for_selector("#connection-status >> text=Import the accounts it reaches")  # no reload: HTMX
    shot(page, "connection-active")
    page.click("text=Import the accounts it reaches")
    page.wait_for_selector(f"text={DEMO_ACCOUNTS[2].account_id}")
    page.check(f"input[value={DEMO_ACCOUNTS[2].account_id}]")
    page.uncheck("input[name=start_sync]")
    page.click("text=Import the ticked accounts")
    page.wait_for_url(f"{live_server.url}/")
    assert DEMO_ACCOUNTS[2].name in page.locator("main").inner_text()
