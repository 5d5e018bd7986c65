"""In a real browser (headless Chromium via Playwright, live server): edit a call's note inline with HTMX and
watch its push badge turn from pending to synced once the outbox is drained to the CallRail sandbox."""

from __future__ import annotations

import re

import pytest

from apps.calls.models import Call
from apps.sync.models import SyncKind
from tests.factories import TEST_PASSWORD
from tests.portal.test_browser import page, sandbox_account, shot  # noqa: F401  (fixtures)
from tests.push.conftest import MIRRORED, drain, upstream
from tests.sync.conftest import execute


@pytest.mark.django_db(transaction=True)
def test_edit_a_call_note_and_see_the_badge_turn_synced(page, live_server, tenant, sandbox_account, sandbox):  # noqa: F811
    account = sandbox_account
    run = execute(account, SyncKind.FULL, [*MIRRORED, "calls"])
    assert run.status == "succeeded", run.errors
    the_call = Call.objects.for_account(account).exclude(company=None).filter(spam=False).order_by("pk").first()

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", tenant.staff.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/accounts/{account.pk}/calls/{the_call.pk}/")
    assert page.locator("#call-edit").count() == 1
    page.fill("#call-edit textarea[name=note]", "Called back, booked a visit")
    page.select_option("#call-edit select[name=lead_status]", "good_lead")
    page.click("#call-edit button[type=submit]")
    # HTMX swapped the card in place: no navigation, a pending badge that polls
    page.wait_for_selector("#call-edit .alert.ok")
    assert re.search(rf"/calls/{the_call.pk}/$", page.url)
    page.wait_for_selector("#call-edit .badge.push-pending")
    shot(page, "10-call-detail-edit-pending")

    drain(account)  # what the worker does, in this process
    page.wait_for_selector("#call-edit .badge.push-synced", timeout=10_000)
    up = upstream(sandbox, account, "calls", the_call.callrail_id)
    assert (up["note"], up["lead_status"]) == ("Called back, booked a visit", "good_lead")
    page.reload()
    assert page.locator(".call-history li.timeline-edit").count() >= 1
    shot(page, "11-call-detail-synced")

    # an invalid value: the message is shown and the typed note kept
    page.fill("#call-edit textarea[name=note]", "Second thought")
    page.fill("#call-edit input[name=value]", "-5")
    page.click("#call-edit button[type=submit]")
    page.wait_for_selector("#call-edit .error")
    assert page.locator("#call-edit textarea[name=note]").input_value() == "Second thought"

    page.goto(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "Client accounts"
    shot(page, "12-dashboard")

    # a tag's page: Edit, then the form; a refusal keeps the input
    from apps.tags.models import Tag

    tag = Tag.objects.for_account(account).live().filter(status="enabled").order_by("pk").first()
    page.goto(f"{live_server.url}/accounts/{account.pk}/tags/{tag.pk}/")
    page.click(".record-actions >> text=Edit")
    page.wait_for_url(re.compile(rf"/tags/{tag.pk}/edit/$"))
    page.fill("input[name=name]", "")
    page.click("button:text('Save')")
    assert page.locator(".field.has-error").count() == 1
    shot(page, "13-tag-edit-refused")
    page.goto(f"{live_server.url}/accounts/{account.pk}/tags/{tag.pk}/delete/")
    shot(page, "14-tag-delete-confirm")
