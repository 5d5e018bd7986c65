"""In a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright against a live server.

The account is filled by the sync engine from the CallRail sandbox. A person signs in, opens the account,
filters and pages the calls list (HTMX swaps the list in place), exports the filtered list as CSV, opens a
call, and screenshots of the main pages are saved under ``var/screenshots/`` as test artifacts.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from django.conf import settings

from apps.calls.models import Call
from apps.calls.selectors import date_window, zone_of
from tests.conftest import chromium_path
from tests.factories import TEST_PASSWORD
from tests.sync.conftest import _clear_redis, execute, point_at_sandbox
from tests.workers import wait_for

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]  # fmt: skip
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"


@pytest.fixture
def sandbox_account(tenant, sandbox):
    """The tenant's first account, pointed at the live sandbox (its data arrives through the sync engine)."""
    account = point_at_sandbox(tenant.account, sandbox)
    yield account
    _clear_redis(account.pk)


@pytest.fixture
def page(monkeypatch):
    chromium = chromium_path()  # skipped with a message where Chromium is missing (failed in CI)
    # Playwright's sync API keeps an event loop in this thread; the ORM calls of the test itself are synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def all_calls(account) -> str:
    return str(Call.objects.for_account(account).live().count())


def shown_count(page) -> int:
    text = page.locator(".list-count strong").inner_text()
    return int(text.replace(",", ""))


def test_staff_signs_in_filters_pages_exports_and_opens_a_call(page, live_server, tenant, sandbox_account):
    run = execute(sandbox_account)
    assert run.status == "succeeded", run.errors
    account = sandbox_account
    answered = Call.objects.for_account(account).live().filter(answered=True).count()
    assert answered > 25  # enough for more than one page of 25

    # sign in
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", tenant.staff.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "Client accounts"
    shot(page, "01-dashboard")

    # the account overview
    page.click(f"text={account.name}")
    page.wait_for_url(re.compile(rf"/accounts/{account.pk}/$"))
    assert page.locator(".overview .chart .bar").count() == 31
    shot(page, "02-account-overview")

    # the calls list, then a filter applied in place by HTMX
    page.click("nav.tabs >> text=Calls")
    page.wait_for_url(re.compile(rf"/accounts/{account.pk}/calls/$"))
    # the list starts on "Recent" (the last 30 days and today, in the account's zone), as the dashboard does
    start, end = date_window("recent", zone_of(account))
    recent = Call.objects.for_account(account).live().filter(start_time__gte=start, start_time__lte=end).count()
    assert shown_count(page) == recent
    shot(page, "03-calls")
    page.select_option("#id_date_range", "all_time")
    page.wait_for_url(re.compile(r"date_range=all_time"))
    wait_for(lambda: shown_count(page) == int(all_calls(account)), timeout=20, what="every call listed")
    total = shown_count(page)
    assert total == Call.objects.for_account(account).live().count()
    page.select_option("#id_per_page", "25")
    page.wait_for_url(re.compile(r"per_page=25"))
    page.select_option("#id_answer_status", "answered")
    page.wait_for_url(re.compile(r"answer_status=answered"))
    page.wait_for_function(f"document.querySelector('.list-count strong').innerText.replace(',', '') == '{answered}'")
    assert shown_count(page) == answered
    statuses = set(page.locator("td.col-status").all_inner_texts())
    assert "Answered" in statuses
    assert statuses <= {"Answered", "Outbound"}  # answered outbound calls count as answered, as in CallRail
    assert page.locator("table.resource-table tbody tr").count() == 25

    # next page, in place
    hrefs = "els => els.map(e => e.getAttribute('href'))"
    first_page_rows = page.locator("td.col-start_time a").evaluate_all(hrefs)
    page.click("a[rel=next]")
    page.wait_for_url(re.compile(r"page=2"))
    page.wait_for_selector(".pagination .current:text('2')")
    second_page_rows = page.locator("td.col-start_time a").evaluate_all(hrefs)
    assert len(second_page_rows) == min(25, answered - 25)
    assert set(first_page_rows).isdisjoint(second_page_rows)
    assert "answer_status=answered" in page.url  # the filter survives paging
    shot(page, "04-calls-filtered-page-2")

    # export the filtered list
    with page.expect_download() as info:
        page.click("#export-csv")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text())))
    assert rows[0][:2] == ["Start", "Caller"]
    assert len(rows) - 1 == answered
    assert {r[rows[0].index("Status")] for r in rows[1:]} <= {"Answered", "Outbound"}

    # a call's page
    page.locator("td.col-start_time a").first.click()
    page.wait_for_url(re.compile(rf"/accounts/{account.pk}/calls/\d+/$"))
    assert page.locator("summary", has_text="All fields").count() == 1  # for the agency's staff, folded
    shot(page, "05-call-detail")

    # other resource pages
    for name in ("trackers", "tags", "companies"):
        page.goto(f"{live_server.url}/accounts/{account.pk}/{name}/")
        assert page.locator(".list-count").count() == 1, name
        shot(page, f"06-{name}")


def test_the_calls_list_reads_without_javascript(live_server, tenant, sandbox_account, monkeypatch):
    """With JavaScript off, the same filter form and page links work as plain GET requests."""
    chromium = chromium_path()
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    execute(sandbox_account, resources=["companies", "trackers", "calls"])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(java_script_enabled=False).new_page()
        try:
            page.goto(f"{live_server.url}/accounts/login/")
            page.fill("input[name=username]", tenant.client_user.email)
            page.fill("input[name=password]", TEST_PASSWORD)
            page.click("button[type=submit]")
            page.goto(f"{live_server.url}/accounts/{sandbox_account.pk}/calls/")
            page.select_option("#id_date_range", "all_time")
            page.select_option("#id_direction", "inbound")
            page.click("button:text('Apply')")
            page.wait_for_url(re.compile(r"direction=inbound"))
            inbound = Call.objects.for_account(sandbox_account).live().filter(direction="inbound").count()
            assert shown_count(page) == inbound
        finally:
            browser.close()
