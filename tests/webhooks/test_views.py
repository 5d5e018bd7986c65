"""Staff pages: the account's webhook log with raw payloads, and the per-company signing key form."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.companies.models import Company
from apps.webhooks.models import WebhookEvent, WebhookSigningKey
from tests.sync.conftest import control

from .conftest import connect_webhooks, deliveries

pytestmark = pytest.mark.django_db


def test_staff_see_the_log_and_the_raw_payload_clients_do_not(client, tenant, hooked_account, sandbox, settings):
    settings.PORTAL_BASE_URL = "http://portal.example.test"
    connect_webhooks(sandbox, hooked_account)
    control(sandbox, "POST", "activity", account_id=hooked_account.callrail_account_id, new_calls=1,
            complete_outbound=False)  # fmt: skip
    delivery = deliveries(sandbox)[0]
    path = urlsplit(delivery["url"]).path
    client.post(path, data=delivery["body"].encode(), content_type="application/json",
                HTTP_SIGNATURE=delivery["signature"])  # fmt: skip
    client.post(path, data=b"{}", content_type="application/json", HTTP_SIGNATURE="forged")
    accepted, rejected = WebhookEvent.objects.for_account(hooked_account).order_by("pk")

    client.force_login(tenant.restricted_staff)
    page = client.get(reverse("webhooks:log", kwargs={"account_pk": hooked_account.pk}))
    assert page.status_code == 200
    text = page.content.decode()
    assert "signature does not match any company&#x27;s signing key" in text
    assert f"http://portal.example.test{path}" in text  # the URLs to enter in CallRail
    assert "Healthy" in text  # a signed webhook arrived
    only_rejected = client.get(
        reverse("webhooks:log", kwargs={"account_pk": hooked_account.pk}), {"status": "rejected"}
    )
    assert accepted.legacy_id not in only_rejected.content.decode()

    detail = client.get(reverse("webhooks:event", kwargs={"account_pk": hooked_account.pk, "event_pk": accepted.pk}))
    assert detail.status_code == 200
    assert accepted.legacy_id in detail.content.decode()  # calls are named by their legacy numeric id
    assert delivery["signature"] in detail.content.decode()
    from django.utils.html import escape

    assert escape(delivery["body"]) in detail.content.decode()  # the raw payload, exactly

    client.force_login(tenant.client_user)
    assert client.get(reverse("webhooks:log", kwargs={"account_pk": hooked_account.pk})).status_code == 403
    assert client.get(reverse("webhooks:event", kwargs={"account_pk": hooked_account.pk,
                                                        "event_pk": rejected.pk})).status_code == 403  # fmt: skip


def test_the_signing_key_form_saves_encrypted_audits_and_never_shows_the_key(client, tenant, hooked_account):
    company = Company.objects.for_account(hooked_account).first()
    url = reverse("webhooks:signing_key", kwargs={"account_pk": hooked_account.pk, "company_pk": company.pk})
    client.force_login(tenant.staff)
    field = f"c{company.pk}-signing_key"

    bad = client.post(url, {field: "too short"})
    assert bad.status_code == 400
    assert "does not look like a CallRail signing key" in bad.content.decode()
    assert 'value="too short"' in bad.content.decode()  # nothing typed is lost
    assert not WebhookSigningKey.objects.for_account(hooked_account).exists()

    key = "5f0d2c8e9a1b4c7d8e2f3a4b5c6d7e8f"
    saved = client.post(url, {field: key})
    assert saved.status_code == 302
    row = WebhookSigningKey.objects.for_account(hooked_account).get()
    assert (row.company, row.signing_key, row.updated_by) == (company, key, tenant.staff)
    with connection.cursor() as cursor:
        cursor.execute("SELECT signing_key FROM webhooks_webhooksigningkey WHERE id = %s", [row.pk])
        (stored,) = cursor.fetchone()
    assert key not in stored
    audit = AuditEvent.objects.get(action="webhooks.signing_key_set")
    assert key not in str(audit.after)
    page = client.get(reverse("webhooks:log", kwargs={"account_pk": hooked_account.pk})).content.decode()
    assert key not in page
    assert key[-4:] in page

    client.force_login(tenant.client_user)
    assert client.post(url, {field: "0" * 32}).status_code == 403
    assert WebhookSigningKey.objects.for_account(hooked_account).get().signing_key == key
