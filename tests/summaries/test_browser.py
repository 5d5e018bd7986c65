"""The HTML email rendered by headless Chromium (Debian's ``chromium``, driven by Playwright): the figures
are visible and the calls-per-day bars are drawn in proportion. Leaves a screenshot in var/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from apps.summaries.emails import summary_build
from apps.summaries.schedule import latest_occurrence
from tests.conftest import chromium_path
from tests.summaries.factories import make_summary

pytestmark = pytest.mark.django_db


def test_email_renders_in_chromium_with_proportional_bars(synced):
    chromium = chromium_path()  # skipped with a message where Chromium is missing (failed in CI)
    from playwright import sync_api

    summary = make_summary(synced, frequency="monthly")
    _instant, period = latest_occurrence(summary, timezone.now())
    built = summary_build(summary=summary, period=period, unsubscribe_url="https://portal.test/u/x/", for_browser=True)
    series = [(p.day, p.totals.total_calls) for p in built.report.series]
    assert max(c for _d, c in series) > 0
    out = Path(settings.VAR_DIR) / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 700, "height": 900})
            page.set_content(built.html, wait_until="load")
            page.screenshot(path=str(out / "summary-email.png"), full_page=True)
            total = page.locator('tr[data-metric="total_calls"] td[data-value]').inner_text()
            assert total.strip() == str(built.report.totals.total_calls)
            widths = page.eval_on_selector_all(
                "tr[data-day]",
                """rows => rows.map(r => {
                    const bar = r.querySelector('td[bgcolor]');
                    const calls = Number(r.querySelector('[data-calls]').textContent);
                    return [calls, bar ? bar.getBoundingClientRect().width : 0];
                })""",
            )
        finally:
            browser.close()
    assert len(widths) == period.days
    busiest = max(calls for calls, _w in widths)
    full = max(w for _c, w in widths)
    assert full > 100  # the busiest day's bar is drawn wide
    for calls, width in widths:
        assert (width == 0) == (calls == 0)
        assert abs(width - full * calls / busiest) <= max(4, full * 0.03)  # in proportion to the calls
    assert (out / "summary-email.png").stat().st_size > 10_000
