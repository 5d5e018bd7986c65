"""Building a branded summary email: figures from ``apps.calls.reports``, HTML and plain-text parts.

The HTML uses tables and inline styles only (mail clients ignore style sheets and scripts): the calls per
day are horizontal bars made of table cells. The agency's logo travels inline (``cid:``) in the email and
as a ``data:`` URL in the browser preview.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from email.mime.image import MIMEImage
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from apps.calls import reports
from apps.calls.reports import CallReport, Change, Period
from apps.portal.formatting import format_phone, format_when, ink_on, title_case_name

from .models import Frequency, PortalSummary

LOGO_CID = "agency-logo"
NOTABLE_CALLS = 10
TOP_ROWS = 5

# (name, label, kind): kind picks formatting; "rate" is a share shown in percent.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("total_calls", "Calls", "count"),
    ("answered_rate", "Answered", "rate"),
    ("first_time_callers", "First-time callers", "count"),
    ("missed_calls", "Missed", "count"),
    ("voicemails", "Voicemails", "count"),
    ("average_duration", "Average duration", "duration"),
    ("leads", "Leads", "count"),
    ("value", "Value", "money"),
)
# Lower is better for these: their increase is shown in the warning colour.
LOWER_IS_BETTER = {"missed_calls", "voicemails"}
PERIOD_WORD = {Frequency.DAILY: "day", Frequency.WEEKLY: "week", Frequency.MONTHLY: "month"}


@dataclass
class BuiltEmail:
    subject: str
    text: str
    html: str
    report: CallReport
    context: dict[str, Any] = field(default_factory=dict)
    logo: bytes = b""
    logo_content_type: str = ""


def fmt_metric(kind: str, value: Any) -> str:
    if value is None:
        return "–"
    if kind == "rate":
        return f"{round(float(value) * 100)}%"
    if kind == "duration":
        return reports.format_duration(value)
    if kind == "money":
        return f"${Decimal(value):,.2f}"
    return f"{int(value):,}"


def fmt_change(kind: str, change: Change) -> str:
    """``+12%`` / ``-3 pts`` / ``new`` / ``no change`` against the previous period."""
    if change.current is None or change.previous is None:
        return "–"
    if kind == "rate":
        points = round((float(change.current) - float(change.previous)) * 100)
        return "no change" if points == 0 else f"{points:+d} pts"
    if change.delta == 0:
        return "no change"
    if change.percent is None:
        return "new"
    return f"{change.percent:+d}%"


def portal_url(path: str) -> str:
    return f"{settings.PORTAL_BASE_URL}{path}"


def _first_url(candidates: list[tuple[str, dict]]) -> str | None:
    for name, kwargs in candidates:
        try:
            return reverse(name, kwargs=kwargs)
        except NoReverseMatch:
            continue
    return None


def call_url(account_pk: int, call_pk: int) -> str:
    """A link to one call's page in the portal (the account page where no call page is routed)."""
    path = _first_url(
        [
            ("portal:resource_detail", {"account_pk": account_pk, "resource": "calls", "pk": call_pk}),
            ("calls:call_detail", {"account_pk": account_pk, "pk": call_pk}),
        ]
    ) or reverse("portal:account_detail", kwargs={"account_pk": account_pk})
    return portal_url(path)


def _caller(call: Any) -> str:
    """Caller ID names come in capitals (``RUEGSEGGER SIMO``): show them in title case, as CallRail does."""
    return title_case_name(call.customer_name) or format_phone(call.customer_phone_number) or "Unknown caller"


def _call_status(call: Any) -> str:
    if call.answered:
        return "Answered"
    if call.voicemail:
        return "Voicemail"
    return "Missed"


def _lines(rows: list[reports.GroupRow]) -> list[dict[str, Any]]:
    return [
        {"label": r.label, "calls": r.totals.total_calls, "answered": r.totals.answered_calls, "leads": r.totals.leads}
        for r in rows
    ]


def summary_context(
    *, summary: PortalSummary, period: Period, unsubscribe_url: str, for_browser: bool = False
) -> tuple[dict[str, Any], CallReport]:
    """Everything the templates show; every figure comes from ``reports.call_report`` for ``period``."""
    account = summary.client_account
    agency = account.agency
    company = summary.company if summary.company_id else None
    report = reports.call_report(account=account, period=period, company=company, top=TOP_ROWS)
    tz = period.tz
    metrics = []
    for name, label, kind in METRICS:
        change = report.change(name)
        direction = change.direction
        if kind == "rate":
            points = (
                None if change.current is None or change.previous is None
                else round((float(change.current) - float(change.previous)) * 100)
            )  # fmt: skip
            direction = "same" if not points else ("up" if points > 0 else "down")
        good = None if direction == "same" else ((direction == "down") == (name in LOWER_IS_BETTER))
        metrics.append(
            {
                "name": name,
                "label": label,
                "current": fmt_metric(kind, change.current),
                "previous": fmt_metric(kind, change.previous),
                "change": fmt_change(kind, change),
                "direction": direction,
                "good": good,
            }
        )
    busiest = report.busiest_day or 1
    series = [
        {
            "label": p.day.strftime("%a, %b %-d"),
            "calls": p.totals.total_calls,
            "width": max(1, round(p.totals.total_calls * 100 / busiest)) if p.totals.total_calls else 0,
        }
        for p in report.series
    ]
    notable = []
    for call in reports.notable_calls(account=account, period=period, company=company, limit=NOTABLE_CALLS):
        notable.append(
            {
                "when": format_when(call.start_time, tz),  # the portal's one time format, labelled
                "caller": _caller(call),
                "number": format_phone(call.customer_phone_number),
                "source": call.source or "",
                "status": _call_status(call),
                "duration": reports.format_duration(call.duration),
                "first": bool(call.first_call),
                "lead": call.lead_status == "good_lead",
                "url": call_url(account.pk, call.pk),
            }
        )
    scope_name = company.name if company else account.name
    frequency_label = summary.get_frequency_display()
    word = PERIOD_WORD.get(summary.frequency, "period")
    if report.is_empty:
        subject = f"No calls this {word} · {scope_name} · {period.label()}"
    else:
        subject = f"{frequency_label} call summary · {scope_name} · {period.label()}"
    logo_src = ""
    if agency.logo:
        if for_browser:
            encoded = base64.b64encode(bytes(agency.logo)).decode()
            logo_src = f"data:{agency.logo_content_type or 'image/png'};base64,{encoded}"
        else:
            logo_src = f"cid:{LOGO_CID}"
    context = {
        "subject": subject,
        "agency": agency,
        "colour": agency.primary_colour or "#1e3a8a",
        "colour_ink": ink_on(agency.primary_colour or "#1e3a8a"),  # readable text on the agency's colour
        "logo_src": logo_src,
        "account": account,
        "company": company,
        "scope_name": scope_name,
        "frequency_label": frequency_label,
        "period_word": word,
        "period": period,
        "period_label": period.label(),
        "previous_label": report.previous_period.label(),
        "time_zone": period.tz_name,
        "report": report,
        "metrics": metrics,
        "series": series,
        "top_sources": _lines(report.by_source),
        "top_keywords": _lines(report.by_keywords),
        "notable_calls": notable,
        "is_empty": report.is_empty,
        "portal_url": portal_url(reverse("portal:account_detail", kwargs={"account_pk": account.pk})),
        "unsubscribe_url": unsubscribe_url,
        "generated_at": format_when(datetime.now(tz), tz),
    }
    return context, report


def summary_build(
    *, summary: PortalSummary, period: Period, unsubscribe_url: str, for_browser: bool = False
) -> BuiltEmail:
    context, report = summary_context(
        summary=summary, period=period, unsubscribe_url=unsubscribe_url, for_browser=for_browser
    )
    agency = summary.client_account.agency
    return BuiltEmail(
        subject=context["subject"],
        text=render_to_string("summaries/email.txt", context),
        html=render_to_string("summaries/email.html", context),
        report=report,
        context=context,
        logo=bytes(agency.logo or b""),
        logo_content_type=agency.logo_content_type or "image/png",
    )


def from_address(agency_name: str) -> str:
    """The portal's sender address, under the agency's name."""
    _name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((agency_name, address or "portal@localhost"))


def summary_message(built: BuiltEmail, *, to: str, agency_name: str, unsubscribe_url: str) -> EmailMultiAlternatives:
    """The MIME message: text part, HTML part, inline logo, and one-click unsubscribe headers (RFC 8058)."""
    message = EmailMultiAlternatives(
        subject=built.subject,
        body=built.text,
        from_email=from_address(agency_name),
        to=[to],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(built.html, "text/html")
    if built.logo:
        subtype = built.logo_content_type.split("/", 1)[1] if "/" in built.logo_content_type else "png"
        image = MIMEImage(built.logo, _subtype=subtype)
        image.add_header("Content-ID", f"<{LOGO_CID}>")
        image.add_header("Content-Disposition", "inline", filename=f"logo.{subtype.split('+')[0]}")
        message.attach(image)
        message.mixed_subtype = "related"
    return message
