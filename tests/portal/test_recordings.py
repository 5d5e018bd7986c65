"""Recordings played through the portal (issue 18, item 2), against the live CallRail sandbox.

The portal asks CallRail where a call's MP3 is (one request, interactive lane), downloads it once and serves
it itself — whole or by byte range — with the viewer's permissions; CallRail's links and their access keys
never reach a page or the API; a spent budget is explained, not hidden.
"""

from __future__ import annotations

import pytest
import requests
from django.urls import reverse

from apps.callrail.budget import mark_exhausted
from apps.calls.models import Call
from apps.companies.models import Company
from apps.tenancy.models import Role
from tests.factories import MembershipFactory
from tests.portal.mirror import call
from tests.sync.conftest import _clear_redis, execute, point_at_sandbox

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def recordings_dir(settings, tmp_path):
    settings.RECORDINGS_CACHE_DIR = tmp_path / "recordings"
    return settings.RECORDINGS_CACHE_DIR


@pytest.fixture
def synced(tenant, sandbox):
    account = point_at_sandbox(tenant.account, sandbox)
    run = execute(account, resources=["companies", "trackers", "calls"])
    assert run.status == "succeeded", run.errors
    yield account
    _clear_redis(account.pk)


def recorded(account) -> Call:
    found = Call.objects.for_account(account).live().exclude(recording_url=None).exclude(company=None).first()
    assert found is not None, "the sandbox seed has recorded calls"
    return found


def url(account, the_call) -> str:
    return reverse("portal:call_recording", args=[account.pk, the_call.pk])


def recording_requests(sandbox, account) -> int:
    """How many times CallRail was asked for a recording's location (the sandbox's own request log)."""
    log = requests.get(f"{sandbox.url}/_sandbox/requests", params={"account_id": account.callrail_account_id,
                       "limit": 10000}, timeout=30).json()["requests"]  # fmt: skip
    return sum(1 for r in log if r["path"].endswith("/recording.json"))


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_recording_is_fetched_once_then_served_whole_and_by_range(login, tenant, synced, sandbox):
    the_call = recorded(synced)
    client = login(tenant.client_user)
    whole = client.get(url(synced, the_call))
    assert whole.status_code == 200
    assert whole["Content-Type"] == "audio/mpeg"
    assert whole["Accept-Ranges"] == "bytes"
    audio = body(whole)
    assert audio[:2] == b"\xff\xfb"  # an MPEG audio frame
    assert int(whole["Content-Length"]) == len(audio)
    assert recording_requests(sandbox, synced) == 1

    # seeking: byte ranges, answered from the portal's copy without asking CallRail again
    part = client.get(url(synced, the_call), HTTP_RANGE="bytes=100-299")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-299/{len(audio)}"
    assert body(part) == audio[100:300]
    tail = client.get(url(synced, the_call), HTTP_RANGE="bytes=-50")
    assert (tail.status_code, body(tail)) == (206, audio[-50:])
    open_ended = client.get(url(synced, the_call), HTTP_RANGE=f"bytes={len(audio) - 10}-")
    assert body(open_ended) == audio[-10:]
    beyond = client.get(url(synced, the_call), HTTP_RANGE=f"bytes={len(audio) + 5}-")
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{len(audio)}"

    # another person replays it: still no second CallRail request
    assert login(tenant.staff).get(url(synced, the_call)).status_code == 200
    assert recording_requests(sandbox, synced) == 1


def test_callrails_recording_links_never_reach_a_page_or_the_api(login, tenant, synced):
    the_call = recorded(synced)
    assert "access_key" in (the_call.recording_player or "")  # CallRail's link does carry a key
    for user in (tenant.client_user, tenant.staff):
        client = login(user)
        page = client.get(reverse("portal:resource_detail", args=[synced.pk, "calls", the_call.pk])).content.decode()
        assert "access_key" not in page
        assert the_call.recording_player not in page
        assert url(synced, the_call) in page
        listing = client.get(reverse("portal:resource_list", args=[synced.pk, "calls"]), {"date_range": "all_time"})
        assert "access_key" not in listing.content.decode()
        api = client.get(f"/api/v1/calls/{the_call.pk}/").json()
        assert "access_key" not in str(api)
        assert api["recording_url"].endswith(url(synced, the_call))


def test_the_viewers_scope_decides(login, tenant, other_tenant, synced):
    the_call = recorded(synced)
    # another agency's owner, the sibling account's URL: 404, and nothing fetched
    assert login(other_tenant.owner).get(url(synced, the_call)).status_code == 404
    sibling = reverse("portal:call_recording", args=[tenant.other_account.pk, the_call.pk])
    assert login(tenant.owner).get(sibling).status_code == 404
    # a client limited to another company of the account
    other = Company.objects.for_account(synced).exclude(pk=the_call.company_id).first()
    membership = MembershipFactory(agency=tenant.agency, role=Role.CLIENT, client_accounts=[synced])
    membership.companies.set([other])
    assert login(membership.user).get(url(synced, the_call)).status_code == 404


def test_a_spent_budget_is_explained_and_nothing_is_sent(login, tenant, synced, sandbox):
    the_call = recorded(synced)
    mark_exhausted(synced.pk, "general", retry_after=600)
    response = login(tenant.client_user).get(url(synced, the_call))
    assert response.status_code == 503
    assert response["Retry-After"]
    message = response.content.decode()
    assert "allowance" in message
    assert "minutes" in message
    assert recording_requests(sandbox, synced) == 0


def test_a_call_without_a_recording(login, tenant):
    plain = call(tenant.account)
    response = login(tenant.staff).get(url(tenant.account, plain))
    assert response.status_code == 404
    assert response.content.decode() == "This call has no recording."
