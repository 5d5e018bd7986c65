"""What a client sees (issue 18): a clean report of their own calls, and nothing of the agency's machinery.

Every page a client can reach by following links from the dashboard is read — as the client, and as an
owner viewing as the client: none says budget, outbox, webhook, API key or sync run (nor shows CallRail's
raw records), and no link on them answers 403. The agency's staff still see all of it.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from django.urls import reverse

from apps.tenancy.models import Membership
from tests.portal.mirror import call, every_resource

pytestmark = pytest.mark.django_db

INTERNAL = re.compile(
    r"budget|outbox|webhook|api key|sync run|sync now|all fields|as callrail last listed|callrail id|access_key",
    re.IGNORECASE,
)
LINK = re.compile(r'<a [^>]*href="([^"#]+)"')


def visible_text(html: str) -> str:
    """What a person reads: the page without its tags, scripts and attributes."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S))


def crawl(client, start: str = "/", limit: int = 120) -> dict[str, tuple[int, str]]:
    """Follow the portal's own links from ``start`` (GET only; no recordings, exports or sign-out)."""
    seen: dict[str, tuple[int, str]] = {}
    queue = [start]
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        response = client.get(url)
        html = response.content.decode() if response.get("Content-Type", "").startswith("text/html") else ""
        seen[url] = (response.status_code, html)
        for href in LINK.findall(html):
            target = urljoin(url, href.replace("&amp;", "&"))
            parts = urlsplit(target)
            if parts.netloc or not parts.path.startswith("/") or parts.path.startswith(("/static/", "/admin/")):
                continue
            if parts.path.endswith((".mp3", ".csv")) or "logout" in parts.path:
                continue
            queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return seen


@pytest.fixture
def report(tenant):
    records = every_resource(tenant.account)
    for n in range(3):
        call(tenant.account, customer_name=f"Caller {n}", company=records["companies"], tracker=records["trackers"])
    return records


def assert_clean(pages: dict[str, tuple[int, str]]) -> None:
    assert len(pages) > 10, sorted(pages)
    refused = [url for url, (status, _) in pages.items() if status == 403]
    assert not refused, f"links that answer 403: {refused}"
    for url, (status, html) in pages.items():
        assert status in (200, 302), (url, status)
        found = INTERNAL.search(visible_text(html))
        assert found is None, f"{url} says {found.group(0)!r}"


def test_a_clients_pages_show_no_machinery_and_no_link_refuses(login, tenant, report):
    pages = crawl(login(tenant.client_user))
    assert_clean(pages)
    visited = set(pages)
    assert reverse("portal:resource_list", args=[tenant.account.pk, "calls"]) in visited
    assert reverse("portal:resource_detail", args=[tenant.account.pk, "calls", report["calls"].pk]) in visited
    assert reverse("portal:resource_list", args=[tenant.account.pk, "text_conversations"]) in visited
    # the report itself: figures, chart, sources, their companies
    dashboard = pages["/"][1]
    assert "Calls per day" in dashboard
    assert "Top sources" in dashboard
    assert report["companies"].name in dashboard


def test_viewing_as_the_client_shows_the_same(login, tenant, report):
    browser = login(tenant.owner)
    membership = Membership.objects.get(user=tenant.client_user, agency=tenant.agency)
    browser.post(reverse("tenancy:impersonation_start", args=[membership.pk]))
    pages = crawl(browser)
    assert_clean(pages)
    assert "Stop viewing as client" in pages["/"][1]


def test_the_agency_staff_still_see_the_machinery(login, tenant, report):
    client = login(tenant.staff)
    account = client.get(reverse("portal:account_detail", args=[tenant.account.pk])).content.decode()
    for word in ("CallRail API budget", "Outbox", "Webhooks", "Sync runs", "API key"):
        assert word in account, word
    detail = client.get(reverse("portal:resource_detail", args=[tenant.account.pk, "calls", report["calls"].pk]))
    assert "All fields" in detail.content.decode()
