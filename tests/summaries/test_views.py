"""Staff pages (list, create/edit with validation, preview, test send, send log) and the public unsubscribe."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.summaries.models import DeliveryStatus, PortalSummary, SummaryDelivery, SummaryRecipient
from apps.summaries.services import delivery_send, summary_dispatch, unsubscribe_token
from tests.summaries.factories import make_summary

pytestmark = pytest.mark.django_db


def url(name: str, account, **kwargs) -> str:
    return reverse(f"summaries:{name}", kwargs={"account_pk": account.pk, **kwargs})


def test_create_refuses_invalid_addresses_with_the_reason_and_keeps_the_input(tenant, login):
    browser = login(tenant.staff)
    data = {
        "frequency": "weekly",
        "weekday": "4",
        "hour": "8",
        "users": [str(tenant.client_user.pk)],
        "emails": "ok@client.test, bob@, not-an-address",
        "send_when_empty": "on",
        "is_active": "on",
    }
    response = browser.post(url("create", tenant.account), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "“bob@” is not a valid email address" in page
    assert "“not-an-address” is not a valid email address: it has no @." in page
    assert "ok@client.test, bob@, not-an-address" in page  # nothing typed is lost
    assert not PortalSummary.objects.for_account(tenant.account).exists()

    data["emails"] = "ok@client.test\nOther@Client.test"
    response = browser.post(url("create", tenant.account), data)
    assert response.status_code == 302
    summary = PortalSummary.objects.for_account(tenant.account).get()
    assert (summary.frequency, summary.weekday, summary.hour) == ("weekly", 4, 8)
    assert sorted(summary.recipients.values_list("email", flat=True)) == sorted(
        ["ok@client.test", "Other@Client.test", tenant.client_user.email]
    )
    assert AuditEvent.objects.filter(action="summary.create", object_id=str(summary.pk)).exists()
    listing = browser.get(url("list", tenant.account)).content.decode()
    assert "Every Friday at 8:00 AM" in listing
    assert "ok@client.test" in listing


def test_a_summary_needs_a_recipient(tenant, login):
    response = login(tenant.staff).post(
        url("create", tenant.account), {"frequency": "daily", "weekday": "0", "hour": "7"}
    )
    assert response.status_code == 400
    assert "Add at least one recipient" in response.content.decode()


def test_edit_and_delete(tenant, login):
    summary = make_summary(tenant.account, emails=("a@client.test", "b@client.test"))
    browser = login(tenant.admin)
    page = browser.get(url("edit", tenant.account, summary_pk=summary.pk)).content.decode()
    assert "a@client.test\nb@client.test" in page
    response = browser.post(
        url("edit", tenant.account, summary_pk=summary.pk),
        {
            "frequency": "monthly",
            "weekday": "0",
            "hour": "9",
            "emails": "b@client.test",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    summary.refresh_from_db()
    assert summary.frequency == "monthly"
    assert not summary.send_when_empty
    assert list(summary.recipients.values_list("email", flat=True)) == ["b@client.test"]
    assert browser.post(url("delete", tenant.account, summary_pk=summary.pk)).status_code == 302
    assert not PortalSummary.objects.for_account(tenant.account).exists()


def test_client_users_cannot_manage_summaries(tenant, login):
    summary = make_summary(tenant.account)
    browser = login(tenant.client_user)
    assert browser.get(url("list", tenant.account)).status_code == 403
    assert browser.get(url("preview", tenant.account, summary_pk=summary.pk)).status_code == 403


def test_another_accounts_summary_is_not_found(tenant, other_tenant, login):
    foreign = make_summary(other_tenant.account)
    sibling = make_summary(tenant.other_account)
    browser = login(tenant.owner)
    assert browser.get(url("edit", tenant.account, summary_pk=foreign.pk)).status_code == 404
    assert browser.get(url("preview", tenant.account, summary_pk=sibling.pk)).status_code == 404
    assert browser.get(url("preview", other_tenant.account, summary_pk=foreign.pk)).status_code == 404
    assert login(tenant.restricted_staff).get(url("list", tenant.other_account)).status_code == 404


def test_preview_renders_html_and_text(synced, tenant, login):
    summary = make_summary(synced, frequency="weekly")
    browser = login(tenant.staff)
    page = browser.get(url("preview", synced, summary_pk=summary.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Weekly call summary" in html
    assert "Calls per day" in html
    assert "<iframe" in html
    email = browser.get(url("preview_email", synced, summary_pk=summary.pk))
    assert email.status_code == 200
    assert email["X-Frame-Options"] == "SAMEORIGIN"
    assert 'data-metric="total_calls"' in email.content.decode()
    text = browser.get(url("preview_email", synced, summary_pk=summary.pk) + "?format=text")
    assert text["Content-Type"].startswith("text/plain")
    assert "Calls per day" in text.content.decode()


def test_send_me_a_test_and_the_send_log(tenant, login, smtp_sink, django_capture_on_commit_callbacks):
    summary = make_summary(tenant.account, emails=("gone@client.test",))
    smtp_sink.refuse["gone@client.test"] = (550, "5.1.1 mailbox unavailable")
    browser = login(tenant.staff)
    with django_capture_on_commit_callbacks(execute=False):
        response = browser.post(url("test_send", tenant.account, summary_pk=summary.pk))
    assert response.status_code == 302
    assert response["Location"] == url("log", tenant.account)
    test = SummaryDelivery.objects.for_account(tenant.account).get(is_test=True)
    assert test.email == tenant.staff.email
    assert delivery_send(account_id=tenant.account.pk, delivery_id=test.pk).status == DeliveryStatus.SENT
    # a real send that the mail server refuses is visible in the log and against the recipient
    PortalSummary.objects.for_account(tenant.account).update(frequency="daily", hour=0, created_at="2020-01-01T00:00Z")
    with django_capture_on_commit_callbacks(execute=False):
        [delivery_id] = summary_dispatch()
    delivery_send(account_id=tenant.account.pk, delivery_id=delivery_id)
    log = browser.get(url("log", tenant.account)).content.decode()
    assert "Refused by the mail server" in log
    assert "550 5.1.1 mailbox unavailable" in log
    assert tenant.staff.email in log
    assert "test" in log
    listing = browser.get(url("list", tenant.account)).content.decode()
    assert "Mail server refused: 550" in listing
    refused_only = browser.get(url("log", tenant.account) + "?status=refused").content.decode()
    assert "gone@client.test" in refused_only
    assert '<span class="badge">test</span>' not in refused_only
    assert '<span class="badge">test</span>' in log


def test_unsubscribe_works_signed_out_and_refuses_tampering(tenant, other_tenant):
    summary = make_summary(tenant.account, emails=("reader@client.test",))
    recipient = summary.recipients.get()
    token = unsubscribe_token(recipient)
    anonymous = Client(enforce_csrf_checks=True)
    link = reverse("summaries:unsubscribe", kwargs={"token": token})
    page = anonymous.get(link)
    assert page.status_code == 200
    assert "reader@client.test" in page.content.decode()
    recipient.refresh_from_db()
    assert recipient.unsubscribed_at is None  # a GET (link scanners) changes nothing
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), token.replace(":", ":x", 1), "preview"):
        response = anonymous.post(reverse("summaries:unsubscribe", kwargs={"token": bad}))
        assert response.status_code == 400
        assert "not valid" in response.content.decode()
    recipient.refresh_from_db()
    assert recipient.unsubscribed_at is None
    # one click from the mail client (RFC 8058 POST, no CSRF token, no session)
    done = anonymous.post(link, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "You are unsubscribed" in done.content.decode()
    recipient.refresh_from_db()
    assert recipient.unsubscribed_at is not None
    assert AuditEvent.objects.filter(action="summary.unsubscribe", object_id=str(recipient.pk)).exists()
    # tenant-safe: the token names one recipient of one account; it cannot reach another tenant's recipient
    foreign = make_summary(other_tenant.account, emails=("reader@client.test",)).recipients.get()
    assert SummaryRecipient.objects.for_account(other_tenant.account).get(pk=foreign.pk).unsubscribed_at is None
    forged = token.split(":")[0]  # a token whose payload was swapped would fail the signature
    assert anonymous.post(reverse("summaries:unsubscribe", kwargs={"token": forged + ":abc:def"})).status_code == 400


def test_unsubscribed_recipient_gets_nothing_more(tenant, smtp_sink, django_capture_on_commit_callbacks):
    summary = make_summary(tenant.account, frequency="daily", hour=0, emails=("reader@client.test",))
    PortalSummary.objects.for_account(tenant.account).update(created_at="2020-01-01T00:00Z")
    with django_capture_on_commit_callbacks(execute=False):
        [delivery_id] = summary_dispatch()
    Client().post(reverse("summaries:unsubscribe", kwargs={"token": unsubscribe_token(summary.recipients.get())}))
    assert delivery_send(account_id=tenant.account.pk, delivery_id=delivery_id).status == DeliveryStatus.SKIPPED
    assert smtp_sink.messages == []


def test_call_links_in_the_email_open_for_the_client(synced, tenant, login):
    from apps.summaries.emails import call_url

    call = reports_calls_first(synced)
    link = call_url(synced.pk, call.pk)
    path = link.split("://", 1)[1].split("/", 1)[1]
    response = login(tenant.client_user).get("/" + path)
    assert response.status_code == 200
    assert call.customer_phone_number in response.content.decode() or call.callrail_id in response.content.decode()


def reports_calls_first(account):
    from apps.calls.models import Call

    return Call.objects.for_account(account).exclude(customer_phone_number=None).order_by("-start_time").first()
