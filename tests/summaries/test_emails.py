"""The summary email's figures equal reports.py's (and the sandbox's own summary) for the same period and
time zone; the email travels through a real SMTP server with its text part, HTML part and logo."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from apps.callrail.client import client_for_account
from apps.calls import reports
from apps.calls.models import Call
from apps.companies.models import Company
from apps.summaries.emails import fmt_metric, summary_build
from apps.summaries.models import DeliveryStatus
from apps.summaries.schedule import latest_occurrence
from apps.summaries.services import delivery_for_period, delivery_send
from tests.summaries.factories import make_summary

pytestmark = pytest.mark.django_db

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def metric_cells(html: str) -> dict[str, tuple[str, str]]:
    """{metric: (this period, previous)} as the HTML part shows them."""
    rows = re.findall(r'<tr data-metric="(\w+)">.*?data-value>(.*?)</td>.*?data-previous>(.*?)</td>', html, flags=re.S)
    return {name: (current.strip(), previous.strip()) for name, current, previous in rows}


def upstream_summary(account, period, **params) -> dict:
    fields = "total_calls,missed_calls,answered_calls,first_time_callers,average_duration,leads"
    client = client_for_account(account, lane="interactive")
    query = {**period.as_params(), "fields": fields, **params}
    return client.get(f"/a/{account.callrail_account_id}/calls/summary.json", params=query)["total_results"]


@pytest.mark.parametrize("frequency", ["weekly", "monthly", "daily"])
def test_email_figures_equal_reports_and_the_sandbox(synced, frequency):
    summary = make_summary(synced, frequency=frequency, hour=6)
    _instant, period = latest_occurrence(summary, timezone.now())
    assert period.tz_name == synced.time_zone
    built = summary_build(summary=summary, period=period, unsubscribe_url="https://portal.test/u/x/")
    report = reports.call_report(account=synced, period=period)
    upstream = upstream_summary(synced, period)
    if frequency != "daily":
        assert report.totals.total_calls > 0
    if report.is_empty:
        assert "No calls this day" in built.subject
        return
    cells = metric_cells(built.html)
    expected = {
        "total_calls": fmt_metric("count", upstream["total_calls"]),
        "missed_calls": fmt_metric("count", upstream["missed_calls"]),
        "first_time_callers": fmt_metric("count", upstream["first_time_callers"]),
        "average_duration": fmt_metric("duration", upstream["average_duration"]),
        "leads": fmt_metric("count", upstream["leads"]),
        "answered_rate": f"{round(upstream['answered_calls'] * 100 / upstream['total_calls'])}%",
        "voicemails": fmt_metric("count", report.totals.voicemails),
        "value": fmt_metric("money", report.totals.value),
    }
    assert {name: cells[name][0] for name in expected} == expected
    previous = upstream_summary(synced, report.previous_period)
    assert cells["total_calls"][1] == fmt_metric("count", previous["total_calls"])
    # the plain-text part says the same
    assert f"Calls: {expected['total_calls']} (previous {cells['total_calls'][1]}," in built.text
    assert f"Leads: {expected['leads']} " in built.text
    # calls per day: one bar per local day of the period, summing to the total
    days = re.findall(r"<tr data-day=\"[^\"]+\">.*?data-calls>(\d+)</td>", built.html, flags=re.S)
    assert len(days) == period.days
    assert sum(map(int, days)) == upstream["total_calls"]
    # top sources equal CallRail's grouped summary (first rows, same order)
    grouped = client_for_account(synced, lane="interactive").get(
        f"/a/{synced.callrail_account_id}/calls/summary.json", params={**period.as_params(), "group_by": "source"}
    )["grouped_results"]
    sources = re.findall(r'<tr data-source="([^"]*)">.*?data-calls>(\d+)</td>', built.html, flags=re.S)
    assert sources == [(g["key"] or "(none)", str(g["total_calls"])) for g in grouped[: len(sources)]]
    assert len(sources) == min(5, len(grouped))


def test_company_summary_uses_the_company_time_zone(synced):
    company = Company.objects.for_account(synced).order_by("name").first()
    Company.objects.for_account(synced).filter(pk=company.pk).update(time_zone="Pacific/Auckland")
    company.refresh_from_db()
    summary = make_summary(synced, company=company, frequency="weekly", hour=6)
    _instant, period = latest_occurrence(summary, timezone.now())
    assert period.tz_name == "Pacific/Auckland"
    built = summary_build(summary=summary, period=period, unsubscribe_url="https://portal.test/u/x/")
    upstream = upstream_summary(synced, period, company_id=company.callrail_id)
    assert metric_cells(built.html)["total_calls"][0] == str(upstream["total_calls"])
    assert built.report.totals.total_calls == upstream["total_calls"]
    assert "Pacific/Auckland" in built.text
    assert company.name in built.subject


def test_no_calls_sends_a_clear_email(tenant):
    summary = make_summary(tenant.account, frequency="weekly")
    _instant, period = latest_occurrence(summary, timezone.now())
    built = summary_build(summary=summary, period=period, unsubscribe_url="https://portal.test/u/x/")
    assert built.subject.startswith("No calls this week")
    assert "There were no calls to" in built.text
    assert "There were no calls to" in built.html
    assert "data-metric" not in built.html.split("data-empty", 1)[1].split("Open ", 1)[0]


def test_email_through_a_real_smtp_server(synced, smtp_sink, settings):
    settings.DEFAULT_FROM_EMAIL = "Portal <summaries@portal.test>"
    agency = synced.agency
    agency.logo, agency.logo_content_type, agency.primary_colour = PNG, "image/png", "#0f766e"
    agency.save()
    summary = make_summary(synced, frequency="weekly", emails=("owner@client.test",))
    _instant, period = latest_occurrence(summary, timezone.now())
    recipient = summary.recipients.get()
    delivery = delivery_for_period(summary=summary, recipient=recipient, period=period)
    assert delivery_send(account_id=synced.pk, delivery_id=delivery.pk).status == DeliveryStatus.SENT
    [message] = smtp_sink.to("owner@client.test")
    assert message["From"] == f"{agency.name} <summaries@portal.test>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/summaries/unsubscribe/" in message["List-Unsubscribe"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    report = reports.call_report(account=synced, period=period)
    assert metric_cells(html)["total_calls"][0] == str(report.totals.total_calls)
    assert f"Calls: {report.totals.total_calls} " in text
    assert 'src="cid:agency-logo"' in html
    assert "#0f766e" in html
    logo = [part for part in message.walk() if part.get("Content-ID") == "<agency-logo>"]
    assert logo
    assert logo[0].get_payload(decode=True) == PNG
    # links into the portal: the account, and each notable call's own page (which opens for a signed-in client)
    assert f"{settings.PORTAL_BASE_URL}/accounts/{synced.pk}/" in html
    links = re.findall(r'<a href="([^"]+/calls/(\d+)/)"', html)
    assert links, "no call links"
    call_ids = {int(pk) for _url, pk in links}
    assert call_ids <= set(reports.report_calls(account=synced, period=period).values_list("pk", flat=True))
    delivery.refresh_from_db()
    assert delivery.total_calls == report.totals.total_calls
    assert delivery.subject == " ".join(str(message["Subject"]).split())


def test_notable_calls_are_shown_in_the_local_time_zone(synced):
    summary = make_summary(synced, frequency="daily", hour=0)
    call = Call.objects.for_account(synced).filter(answered=False).order_by("-start_time").first()
    local = call.start_time.astimezone(reports.zone(synced.time_zone))
    period = reports.Period(local.date(), local.date(), synced.time_zone)
    built = summary_build(summary=summary, period=period, unsubscribe_url="https://portal.test/u/x/")
    # the portal's one time format, labelled with the zone (MST / MDT)
    assert f"{local.strftime('%b %-d, %Y, %-I:%M %p')} {local.tzname()}" in built.html
    utc_label = call.start_time.astimezone(UTC).strftime("%-I:%M %p")
    assert utc_label != local.strftime("%-I:%M %p")  # Denver is never UTC: the local time really was used
    assert datetime.now(UTC) - call.start_time < timedelta(days=800)
