"""In a real browser (headless Chromium, Playwright) against a live server and a real Celery worker: a bulk tag
action over "all matching" a filter, from the list through the dry-run preview to the progress bar's end.
Screenshots are saved as ``var/screenshots/bulk-*.png``."""

from __future__ import annotations

import re

import pytest

from apps.bulk.models import BulkJob
from apps.calls.models import Call
from tests.bulk.test_bulk import company_and_tag
from tests.factories import TEST_PASSWORD
from tests.portal.test_browser import page, shot  # noqa: F401  (fixture)
from tests.push.conftest import mirrored  # noqa: F401  (fixture)
from tests.sync.conftest import sandbox_account  # noqa: F401  (fixture)


@pytest.mark.django_db(transaction=True)
def test_bulk_tag_action_over_all_matching_with_progress(page, live_server, tenant, mirrored, celery_worker):  # noqa: F811
    account = mirrored
    company, tag, _ = company_and_tag(account)
    matching = Call.objects.for_account(account).live().filter(company=company).count()
    assert matching > 0

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", tenant.staff.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    # the calls list, filtered by company; "select all on this page" (JS) counts the rows
    page.goto(f"{live_server.url}/accounts/{account.pk}/calls/")
    page.select_option("#id_date_range", "all_time")  # the list starts on "Recent"; the company's calls, all
    page.wait_for_url(re.compile(r"date_range=all_time"))
    page.select_option("#id_company", str(company.pk))
    page.wait_for_url(re.compile(rf"company={company.pk}"))
    page.wait_for_function(f"document.querySelector('.list-count strong').innerText.replace(',', '') == '{matching}'")
    rows = page.locator("input.bulk-row").count()
    page.check("input.bulk-all")
    assert page.locator(".bulk-selected").inner_text() == f"{rows} selected"
    shot(page, "bulk-01-list-selection")

    # all N matching this filter -> the action's parameters
    page.select_option("select[name=scope]", "all")
    page.select_option("#bulk-action", "tags_add")
    page.click("text=Bulk action…")
    page.wait_for_url(re.compile(rf"/accounts/{account.pk}/bulk/calls/$"))  # the selection travels in the body
    assert "All calls matching this filter" in page.locator(".bulk-selection").inner_text()
    page.check(f"label:has-text('{tag.name}') >> input")
    shot(page, "bulk-02-parameters")

    # the dry-run preview: counts and the CallRail requests against the budget
    page.click("text=Preview (dry run)")
    page.wait_for_selector("#preview-count")
    assert page.locator("#preview-count").inner_text() == str(matching)
    requests = int(page.locator("#preview-requests").inner_text())
    assert 0 < requests <= matching
    assert page.locator(".bulk-budget tbody tr").count() == 1
    shot(page, "bulk-03-preview")

    # run it: the progress bar is polled by HTMX until the job ends; record every value the bar shows
    page.add_init_script(
        """(() => {
          window.__bulkSeen = [];
          const note = () => { const bar = document.querySelector('#bulk-bar');
                               if (bar) window.__bulkSeen.push(Number(bar.getAttribute('value'))); };
          document.addEventListener('DOMContentLoaded', note);
          document.addEventListener('htmx:afterSettle', note);
        })();"""
    )
    page.click(f"text=Run on {matching} calls")
    page.wait_for_url(re.compile(rf"/accounts/{account.pk}/bulk/jobs/\d+/$"))
    page.wait_for_selector("#bulk-progress[data-status=done]", timeout=90_000)
    assert page.locator("#bulk-percent").inner_text() == "100%"
    seen = page.evaluate("() => window.__bulkSeen")
    print(f"progress bar values seen: {seen}")
    assert seen, "the progress bar was never rendered"
    assert seen == sorted(seen), seen  # it only moves forward
    assert seen[-1] == 100
    assert page.locator("#bulk-bar").get_attribute("value") == "100"
    assert page.locator("#bulk-succeeded").inner_text() == str(requests)
    assert page.locator("#bulk-failed").inner_text() == "0"
    shot(page, "bulk-04-finished")
    job = BulkJob.objects.for_account(account).get()
    assert (job.total, job.succeeded, job.failed) == (matching, requests, 0)

    # the list now shows the tag on every call of the company
    page.click("text=follow them in the outbox")
    page.wait_for_url(re.compile(rf"/accounts/{account.pk}/outbox/"))
    shot(page, "bulk-05-outbox")
    tagged = [c for c in Call.objects.for_account(account).live().filter(company=company) if tag.name in (c.tags or [])]
    assert len(tagged) == matching
