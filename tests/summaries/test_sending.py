"""Sending through real SMTP: refusals recorded against the recipient, retries, skip-when-empty, and a real
Celery worker sending each (address, period) once even when the due-task runs twice at the same time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.summaries.models import DeliveryStatus, PortalSummary, SummaryDelivery, SummaryRecipient
from apps.summaries.schedule import latest_occurrence
from apps.summaries.services import delivery_for_period, delivery_send, summary_send_test
from apps.summaries.tasks import summaries_dispatch_task
from tests.summaries.factories import make_summary
from tests.summaries.smtp_sink import SmtpSink, closed_port
from tests.workers import WorkerProcess, start_worker

pytestmark = pytest.mark.django_db


def one_delivery(summary: PortalSummary, email: str) -> SummaryDelivery:
    recipient = summary.recipients.get(email=email)
    _instant, period = latest_occurrence(summary, timezone.now())
    return delivery_for_period(summary=summary, recipient=recipient, period=period)


def test_a_refused_address_is_recorded_and_not_retried(tenant, smtp_sink):
    smtp_sink.refuse["gone@client.test"] = (550, "5.1.1 <gone@client.test>: mailbox unavailable")
    summary = make_summary(tenant.account, emails=("gone@client.test", "here@client.test"))
    refused = one_delivery(summary, "gone@client.test")
    outcome = delivery_send(account_id=tenant.account.pk, delivery_id=refused.pk)
    assert outcome.status == DeliveryStatus.REFUSED
    assert outcome.retry_in is None
    refused.refresh_from_db()
    assert "550" in refused.error
    assert "mailbox unavailable" in refused.error
    recipient = SummaryRecipient.objects.for_account(tenant.account).get(email="gone@client.test")
    assert "550" in recipient.last_error
    assert recipient.last_error_at is not None
    assert smtp_sink.to("gone@client.test") == []
    ok = one_delivery(summary, "here@client.test")
    assert delivery_send(account_id=tenant.account.pk, delivery_id=ok.pk).status == DeliveryStatus.SENT
    assert len(smtp_sink.to("here@client.test")) == 1


def test_a_temporary_refusal_is_retried_then_sent(tenant, smtp_sink):
    smtp_sink.refuse["busy@client.test"] = (451, "4.3.0 try again later")
    summary = make_summary(tenant.account, emails=("busy@client.test",))
    delivery = one_delivery(summary, "busy@client.test")
    outcome = delivery_send(account_id=tenant.account.pk, delivery_id=delivery.pk)
    assert outcome.status == DeliveryStatus.RETRYING
    assert outcome.retry_in == 60
    del smtp_sink.refuse["busy@client.test"]
    assert delivery_send(account_id=tenant.account.pk, delivery_id=delivery.pk).status == DeliveryStatus.SENT
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.error == ""
    assert len(smtp_sink.to("busy@client.test")) == 1


def test_an_unreachable_mail_server_is_retried_then_given_up(tenant, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 3
    settings.SUMMARY_MAX_ATTEMPTS = 3
    summary = make_summary(tenant.account, emails=("x@client.test",))
    delivery = one_delivery(summary, "x@client.test")
    waits = [delivery_send(account_id=tenant.account.pk, delivery_id=delivery.pk).retry_in for _ in range(3)]
    assert waits == [60, 120, None]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "Gave up after 3 attempts" in delivery.error
    assert "refused" in delivery.error.lower()
    assert SummaryRecipient.objects.for_account(tenant.account).get().last_error


def test_empty_period_skipped_by_choice(tenant, smtp_sink):
    summary = make_summary(tenant.account, emails=("quiet@client.test",), send_when_empty=False)
    delivery = one_delivery(summary, "quiet@client.test")
    assert delivery_send(account_id=tenant.account.pk, delivery_id=delivery.pk).status == DeliveryStatus.SKIPPED
    delivery.refresh_from_db()
    assert delivery.total_calls == 0
    assert delivery.error == "No calls in the period."
    assert smtp_sink.messages == []


def test_empty_period_sends_no_calls_email_by_default(tenant, smtp_sink):
    summary = make_summary(tenant.account, emails=("quiet@client.test",))
    delivery = one_delivery(summary, "quiet@client.test")
    assert delivery_send(account_id=tenant.account.pk, delivery_id=delivery.pk).status == DeliveryStatus.SENT
    [message] = smtp_sink.to("quiet@client.test")
    assert str(message["Subject"]).strip().startswith("No calls this week")


def test_send_me_a_test_goes_to_the_staff_member(tenant, smtp_sink, django_capture_on_commit_callbacks):
    summary = make_summary(tenant.account, emails=("reader@client.test",), send_when_empty=False)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        delivery = summary_send_test(summary=summary, user=tenant.staff)
    assert len(callbacks) == 1
    assert delivery.is_test
    # a test is sent even for an empty period, to the staff member only
    assert delivery_send(account_id=tenant.account.pk, delivery_id=delivery.pk).status == DeliveryStatus.SENT
    assert len(smtp_sink.to(tenant.staff.email)) == 1
    assert smtp_sink.to("reader@client.test") == []
    # and it does not count as the real send of that period
    real = one_delivery(summary, "reader@client.test")
    assert real.pk != delivery.pk
    assert real.status == DeliveryStatus.PENDING


def start_mail_worker() -> WorkerProcess:
    """A real worker on the ``email`` queue whose settings send via EMAIL_URL."""
    return start_worker("email", settings_module="tests.summaries.worker_settings", name="test-mail")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_due_task_twice_at_once_on_a_real_worker_sends_each_once(tenant, monkeypatch):
    sink = SmtpSink().start()
    monkeypatch.setenv("EMAIL_URL", f"smtp://127.0.0.1:{sink.port}")
    worker = start_mail_worker()
    try:
        # The worker dispatches on the real clock: a daily summary due at this very local hour is due now, at any
        # hour of any day (its latest send time is less than an hour ago, inside any catch-up window).
        local_hour = datetime.now(ZoneInfo(tenant.account.time_zone)).hour
        summary = make_summary(
            tenant.account, frequency="daily", hour=local_hour, emails=("a@client.test", "b@client.test")
        )
        PortalSummary.objects.for_account(tenant.account).filter(pk=summary.pk).update(
            created_at=datetime.now(UTC) - timedelta(days=3)
        )
        for _ in range(2):
            summaries_dispatch_task.delay()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            statuses = list(SummaryDelivery.objects.for_account(tenant.account).values_list("status", flat=True))
            if len(statuses) == 2 and set(statuses) == {DeliveryStatus.SENT}:
                break
            time.sleep(0.3)
        time.sleep(1.5)  # let any duplicate task finish before counting
        assert sorted(SummaryDelivery.objects.for_account(tenant.account).values_list("email", "status")) == [
            ("a@client.test", "sent"),
            ("b@client.test", "sent"),
        ], worker.log.read_text()[-3000:]
        assert len(sink.to("a@client.test")) == 1
        assert len(sink.to("b@client.test")) == 1
        assert len(sink.messages) == 2
    finally:
        worker.stop()
        sink.stop()


def test_a_deactivated_client_user_gets_nothing_more(tenant, smtp_sink):
    summary = make_summary(tenant.account, emails=(), users=[tenant.client_user])
    delivery = one_delivery(summary, tenant.client_user.email)
    tenant.client_user.memberships.update(is_active=False)
    assert delivery_send(account_id=tenant.account.pk, delivery_id=delivery.pk).status == DeliveryStatus.SKIPPED
    assert smtp_sink.messages == []
    tenant.client_user.memberships.update(is_active=True)
    summary.recipients.update(unsubscribed_at=None)
    SummaryDelivery.objects.for_account(tenant.account).update(status=DeliveryStatus.PENDING)
    assert delivery_send(account_id=tenant.account.pk, delivery_id=delivery.pk).status == DeliveryStatus.SENT
    assert len(smtp_sink.to(tenant.client_user.email)) == 1
