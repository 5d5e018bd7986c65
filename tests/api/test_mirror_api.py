"""REST API over the mirror: every resource listed, scoped, filtered, searched and ordered like the portal."""

from datetime import timedelta, timezone

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from apps.calls.models import Call
from apps.sync.api import ENDPOINTS
from tests.sync.conftest import execute, point_at_sandbox

pytestmark = [pytest.mark.django_db(transaction=True)]


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def synced(tenant, sandbox):
    account = point_at_sandbox(tenant.account, sandbox)
    assert execute(account).status == "succeeded"
    return account


def test_every_mirrored_resource_is_listed_exactly_as_scoped(synced, tenant, other_tenant):
    for endpoint in ENDPOINTS:
        model = apps.get_model(endpoint.model)
        expected = set(model.objects.for_account(synced).live().values_list("callrail_id", flat=True))
        url = f"/api/v1/{endpoint.url}/?page_size=500"
        body = api_as(tenant.owner).get(url, {"page_size": 500}).json()
        seen = {row["callrail_id"] for row in body["results"]}
        if body["next"]:  # page through everything
            client, next_url = api_as(tenant.owner), body["next"]
            while next_url:
                page = client.get(next_url).json()
                seen |= {row["callrail_id"] for row in page["results"]}
                next_url = page["next"]
        assert seen == expected, endpoint.url
        assert api_as(other_tenant.owner).get(url).json()["count"] == 0, endpoint.url
    assert Call.objects.for_account(synced).count() > 50  # the sandbox profile really filled the mirror


def test_call_filters_search_ordering_and_detail(synced, tenant, other_tenant):
    client = api_as(tenant.client_user)
    calls = Call.objects.for_account(synced).live()
    answered = client.get("/api/v1/calls/", {"answered": "true"}).json()
    assert answered["count"] == calls.filter(answered=True).count() > 0

    one = calls.exclude(customer_name__isnull=True).exclude(customer_name="").first()
    found = client.get("/api/v1/calls/", {"search": one.customer_name}).json()["results"]
    assert one.callrail_id in {row["callrail_id"] for row in found}

    ordered = client.get("/api/v1/calls/", {"ordering": "duration"}).json()["results"]
    durations = [row["duration"] for row in ordered if row["duration"] is not None]
    assert durations == sorted(durations)

    detail = client.get(f"/api/v1/calls/{one.pk}/").json()
    assert detail["customer_name"] == one.customer_name
    assert detail["payload"]["id"] == one.callrail_id
    assert "payload_hash" not in detail
    assert api_as(other_tenant.owner).get(f"/api/v1/calls/{one.pk}/").status_code == 404


def test_deleted_records_are_hidden_unless_asked_for(synced, tenant):
    from django.utils import timezone

    gone = Call.objects.for_account(synced).live().first()
    Call.objects.for_account(synced).filter(pk=gone.pk).update(deleted_upstream_at=timezone.now())
    client = api_as(tenant.owner)
    live_ids = {row["callrail_id"] for row in client.get("/api/v1/calls/", {"page_size": 500}).json()["results"]}
    deleted = client.get("/api/v1/calls/", {"deleted": "true"}).json()
    assert gone.callrail_id not in live_ids
    assert [row["callrail_id"] for row in deleted["results"]] == [gone.callrail_id]


def test_api_edits_go_through_the_services_and_the_outbox_to_callrail(synced, tenant, sandbox):
    from apps.push.models import OutboxEntry
    from apps.tags.models import Tag
    from tests.push.conftest import drain, upstream

    client = api_as(tenant.staff)
    call = Call.objects.for_account(synced).live().filter(spam=False).first()
    response = client.patch(f"/api/v1/calls/{call.pk}/", {"note": "Called back via the API"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["note"] == "Called back via the API"
    created = client.post("/api/v1/tags/", {"client_account": synced.pk, "name": "API tag", "color": "blue1",
                                            "tag_level": "account"}, format="json")  # fmt: skip
    assert created.status_code == 201, created.content
    assert OutboxEntry.objects.for_account(synced).count() == 2
    drain(synced)
    assert upstream(sandbox, synced, "calls", call.callrail_id)["note"] == "Called back via the API"
    tag = Tag.objects.for_account(synced).get(pk=created.json()["id"])
    assert upstream(sandbox, synced, "tags", tag.callrail_id)["name"] == "API tag"

    refused = client.post("/api/v1/tags/", {"client_account": synced.pk, "name": "X", "color": "hotpink",
                                            "tag_level": "account"}, format="json")  # fmt: skip
    assert refused.status_code == 400
    assert "color" in refused.json()
    assert client.delete(f"/api/v1/calls/{call.pk}/").status_code == 405
    assert client.get("/api/v1/form-submissions/").status_code == 200
    assert client.post("/api/v1/form-submissions/", {}, format="json").status_code == 405


def test_api_writes_follow_the_portal_permissions(synced, tenant, other_tenant):
    call = Call.objects.for_account(synced).live().first()
    tenant.agency.client_can_annotate_calls = False
    tenant.agency.save()
    assert (
        api_as(tenant.client_user).patch(f"/api/v1/calls/{call.pk}/", {"note": "x"}, format="json").status_code == 403
    )
    tenant.agency.client_can_annotate_calls = True
    tenant.agency.save()
    client = api_as(type(tenant.client_user).objects.get(pk=tenant.client_user.pk))
    assert client.patch(f"/api/v1/calls/{call.pk}/", {"note": "mine"}, format="json").status_code == 200
    tag = {"client_account": synced.pk, "name": "Nope", "color": "blue1", "tag_level": "account"}
    assert client.post("/api/v1/tags/", tag, format="json").status_code == 403
    foreign = api_as(other_tenant.owner)
    assert foreign.patch(f"/api/v1/calls/{call.pk}/", {"note": "x"}, format="json").status_code == 404
    assert foreign.post("/api/v1/tags/", tag, format="json").status_code == 400  # not one of their accounts


def test_invalid_filter_is_a_clear_400(synced, tenant):
    response = api_as(tenant.owner).get("/api/v1/calls/", {"start_time__gte": "not a date"})
    assert response.status_code == 400
    assert "start_time__gte" in response.json()


def test_moments_with_any_offset_are_compared_in_utc(synced, tenant):
    client = api_as(tenant.owner)
    far = client.get("/api/v1/calls/", {"start_time__lte": "0157-11-01T05:36:36-21:21"})
    assert far.status_code == 200
    assert far.json()["count"] == 0
    recent = Call.objects.for_account(synced).live().order_by("-start_time").first()
    shifted = recent.start_time.astimezone(timezone(timedelta(hours=-9, minutes=-30)))
    answer = client.get("/api/v1/calls/", {"start_time__gte": shifted.isoformat()}).json()
    assert recent.callrail_id in {row["callrail_id"] for row in answer["results"]}


def test_error_bodies_are_objects(synced, tenant):
    response = api_as(tenant.owner).get("/api/v1/calls/", {"search": "a\x00b"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Null characters are not allowed."}


def test_outbound_caller_ids_never_carry_their_validation_code(synced, tenant):
    from apps.calls.models import OutboundCallerId

    mirrored = OutboundCallerId.objects.for_account(synced).live()
    assert any("validation_code" in row.payload for row in mirrored)  # CallRail lists it; the mirror keeps it
    rows = api_as(tenant.owner).get("/api/v1/outbound-caller-ids/").json()["results"]
    assert rows
    assert not [row for row in rows if "validation_code" in row["payload"]]
    assert api_as(tenant.client_user).get("/api/v1/integration-triggers/").status_code == 200
