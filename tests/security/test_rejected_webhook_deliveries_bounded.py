"""Issue 16, finding 9: refused webhook deliveries were stored whole and without limit, and the endpoint token
was shown to clients. A refused delivery keeps only its size, hash, reason and time; refusals per endpoint are
rate-limited; the token is not shown to clients (e.g. in /api/v1/integrations/<id>/)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import time_machine
from rest_framework.test import APIClient

from apps.core.redis import get_redis, redis_key
from apps.integrations.models import Integration
from apps.webhooks.models import EventStatus, WebhookEndpoint, WebhookEvent
from apps.webhooks.services import webhook_signature, webhook_urls
from tests.webhooks.conftest import connect_webhooks

pytestmark = pytest.mark.django_db

PINNED = datetime(2026, 3, 31, 23, 59, 10, tzinfo=UTC)  # any instant: the refusal window is per minute


@pytest.fixture
def endpoint(hooked_account, sandbox, settings):
    settings.PORTAL_BASE_URL = "http://portal.example.test"
    keys = connect_webhooks(sandbox, hooked_account)
    traveller = time_machine.travel(PINNED, tick=False)
    traveller.start()
    path = urlsplit(webhook_urls(hooked_account)["post_call_webhook"]).path
    conn = get_redis()
    stale = list(conn.scan_iter(match=redis_key("webhooks", "refused", hooked_account.pk, "*")))
    if stale:
        conn.delete(*stale)
    yield hooked_account, keys, path
    traveller.stop()
    stale = list(conn.scan_iter(match=redis_key("webhooks", "refused", hooked_account.pk, "*")))
    if stale:
        conn.delete(*stale)


def test_a_refused_delivery_keeps_only_its_size_hash_reason_and_time(client, endpoint):
    account, _, path = endpoint
    body = json.dumps({"padding": "x" * 200_000, "note": "a secret someone posted"}).encode()  # 200 KB
    answer = client.post(path, data=body, content_type="application/json", HTTP_SIGNATURE="bm90IGEgc2lnbmF0dXJl")
    assert answer.status_code == 401
    (event,) = WebhookEvent.objects.for_account(account)
    assert event.status == EventStatus.REJECTED
    assert (event.raw_body, event.signature, event.source_address, event.changes) == ("", "", None, [])
    assert (event.body_bytes, event.body_sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert event.reason == "signature does not match any company's signing key"
    assert event.received_at == PINNED


def test_refusals_per_endpoint_are_rate_limited_and_genuine_deliveries_never(client, endpoint, settings):
    account, keys, path = endpoint
    settings.WEBHOOK_REFUSALS_PER_MINUTE = 5
    answers = [
        client.post(path, data=b'{"n": %d}' % n, content_type="application/json", HTTP_SIGNATURE="forged").status_code
        for n in range(12)
    ]
    assert answers == [401] * 5 + [429] * 7
    assert WebhookEvent.objects.for_account(account).count() == 5  # bounded: nothing stored beyond the limit
    # a genuine signed delivery is not a refusal: accepted while the refusals are held back
    company_id, key = next(iter(keys.items()))
    body = json.dumps({"id": 4242, "company_id": company_id, "start_time": PINNED.isoformat()}).encode()
    signed = client.post(path, data=body, content_type="application/json",
                         HTTP_SIGNATURE=webhook_signature(signing_key=key, body=body))  # fmt: skip
    assert signed.status_code == 202


def test_the_endpoint_token_is_shown_to_staff_and_hidden_from_clients(client, endpoint, tenant):
    account, _, _ = endpoint
    from tests.sync.conftest import execute

    execute(account, resources=["companies", "integrations"])  # the integrations now list the portal's URLs
    token = WebhookEndpoint.objects.for_account(account).get().token
    hooked = Integration.objects.for_account(account).filter(type="Webhooks", config__icontains=token).first()
    assert hooked is not None

    def api_as(user):
        api = APIClient()
        api.force_authenticate(user)
        return api.get(f"/api/v1/integrations/{hooked.pk}/")

    staff = api_as(tenant.staff)
    assert staff.status_code == 200
    assert token in json.dumps(staff.json())  # staff set webhooks up: they see the URLs whole
    seen = api_as(tenant.client_user)
    assert seen.status_code == 200
    assert token not in json.dumps(seen.json())
    assert "/hooks/" in json.dumps(seen.json()["config"])  # the URLs are still there, without the token
    listed = APIClient()
    listed.force_authenticate(tenant.client_user)
    assert token not in json.dumps(listed.get("/api/v1/integrations/").json())

    # the portal's pages and CSV: integrations are the agency's CallRail set-up, which clients are refused
    # (issue 18), and the refusal says nothing of the token either
    client.force_login(tenant.client_user)
    for url in (f"/accounts/{account.pk}/integrations/{hooked.pk}/", f"/accounts/{account.pk}/integrations/",
                f"/accounts/{account.pk}/integrations/export.csv"):  # fmt: skip
        refused = client.get(url)
        assert refused.status_code == 403, url
        assert token not in refused.content.decode()
