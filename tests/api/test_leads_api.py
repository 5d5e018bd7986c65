"""The REST API for answering leads (issue 21): texts, call backs and the missed-lead inbox, through the same
services as the pages (the same refusals, as a 400 naming the field), scoped like every endpoint."""

from __future__ import annotations

import pytest

from apps.calls.callbacks import caller_ids
from apps.calls.models import Call
from apps.text_conversations.models import OutgoingText
from apps.text_conversations.sending import e164_us
from tests.push.conftest import drain
from tests.text_conversations.test_sending import a_conversation, synced  # noqa: F401  (fixture)

from .test_mirror_api import api_as

pytestmark = pytest.mark.django_db


def test_reply_through_the_api_then_listed_with_its_state(synced, tenant):  # noqa: F811
    conversation = a_conversation(synced)
    api = api_as(tenant.staff)
    response = api.post("/api/v1/texts/", {"conversation": conversation.pk, "content": "Booked for Friday."},
                        format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["state"] == "pending"
    drain(synced)
    (row,) = api.get("/api/v1/texts/").json()["results"]
    assert (row["state"], row["conversation"], row["content"]) == ("sent", conversation.pk, "Booked for Friday.")
    refused = api.post("/api/v1/texts/", {"conversation": conversation.pk, "content": "x" * 141}, format="json")
    assert refused.status_code == 400
    assert "at most 140 characters" in refused.json()["content"][0]
    assert OutgoingText.objects.for_account(synced).count() == 1


def test_clients_may_not_send_unless_allowed_and_never_into_another_agency(synced, tenant, other_tenant):  # noqa: F811
    conversation = a_conversation(synced)
    body = {"conversation": conversation.pk, "content": "Hi"}
    assert api_as(tenant.client_user).post("/api/v1/texts/", body, format="json").status_code == 403
    foreign = api_as(other_tenant.staff).post("/api/v1/texts/", body, format="json")
    assert foreign.status_code == 400  # the conversation does not exist for them
    assert "does not exist" in str(foreign.json())
    assert api_as(tenant.client_user).get("/api/v1/missed-leads/").json() == []  # not allowed: nothing to answer
    tenant.agency.client_can_answer_leads = True
    tenant.agency.save()
    assert api_as(tenant.client_user).post("/api/v1/texts/", body, format="json").status_code == 201
    assert api_as(tenant.client_user).get("/api/v1/missed-leads/").json() != []


def test_call_back_and_missed_leads_through_the_api(synced, tenant):  # noqa: F811
    api = api_as(tenant.staff)
    leads = api.get("/api/v1/missed-leads/", {"client_account": synced.pk}).json()
    call_lead = next(x for x in leads if x["kind"] == "call")
    assert call_lead["age_seconds"] >= 0
    call = Call.objects.for_account(synced).get(pk=call_lead["id"])
    assert e164_us(call.customer_phone_number)
    caller = caller_ids(account=synced, company=call.company, read_upstream=False)[0][0].number
    refused = api.post("/api/v1/call-backs/", {"call": call.pk, "caller_id": caller, "business_phone_number": "1"},
                       format="json")  # fmt: skip
    assert refused.status_code == 400
    assert "business_phone_number" in refused.json()
    response = api.post("/api/v1/call-backs/", {"call": call.pk, "caller_id": caller,
                                                "business_phone_number": "+13035550142"}, format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    after = api.get("/api/v1/missed-leads/", {"client_account": synced.pk}).json()
    assert call.customer_phone_number not in {x["customer_phone_number"] for x in after}  # answered from the portal
    drain(synced)
    (row,) = api.get("/api/v1/call-backs/").json()["results"]
    assert row["state"] == "placed"
    assert Call.objects.for_account(synced).get(pk=row["call"]).direction == "outbound"


def test_a_lead_is_assigned_through_the_api_to_members_of_its_account_only(synced, tenant, other_tenant):  # noqa: F811
    api = api_as(tenant.staff)
    lead = api.get("/api/v1/missed-leads/", {"client_account": synced.pk}).json()[0]
    body = {"client_account": synced.pk, "kind": lead["kind"], "id": lead["id"], "assignee": tenant.staff.pk}
    assigned = api.post("/api/v1/missed-leads/assign/", body, format="json")
    assert assigned.status_code == 200, assigned.content
    again = api.get("/api/v1/missed-leads/", {"client_account": synced.pk}).json()
    assert next(x for x in again if (x["kind"], x["id"]) == (lead["kind"], lead["id"]))["assignee"] == tenant.staff.pk
    stranger = api.post("/api/v1/missed-leads/assign/", {**body, "assignee": other_tenant.staff.pk}, format="json")
    assert stranger.status_code == 400
    assert "assignee" in stranger.json()
    assert api_as(tenant.client_user).post("/api/v1/missed-leads/assign/", body, format="json").status_code == 403
    foreign = api_as(other_tenant.owner).post("/api/v1/missed-leads/assign/", body, format="json")
    assert foreign.status_code == 400
    assert "client_account" in foreign.json()


def test_the_form_summary_and_ignored_fields_through_the_api(synced, tenant, other_tenant):  # noqa: F811
    from apps.form_submissions.models import IgnoredFormField

    summary = api_as(tenant.staff).get("/api/v1/form-summary/", {"client_account": synced.pk, "group_by": "source"})
    assert summary.status_code == 200, summary.content
    body = summary.json()
    assert body["company"] is None
    assert body["totals"]["total_forms"] >= sum(r["total_forms"] for r in body["rows"]) > 0
    assert api_as(other_tenant.owner).get("/api/v1/form-summary/", {"client_account": synced.pk}).status_code == 400
    added = api_as(tenant.staff).post("/api/v1/ignored-form-fields/",
                                      {"client_account": synced.pk, "field_names": ["password", "ssn"]}, format="json")
    assert added.status_code == 201, added.content
    assert {r["field_name"] for r in added.json()} == {"password", "ssn"}
    assert IgnoredFormField.objects.for_account(synced).count() == 2
    listed = api_as(tenant.staff).get("/api/v1/ignored-form-fields/").json()["results"]
    assert {r["field_name"] for r in listed} == {"password", "ssn"}
    assert api_as(tenant.client_user).get("/api/v1/ignored-form-fields/").json()["results"] == []
    refused = api_as(tenant.client_user).post("/api/v1/ignored-form-fields/",
                                              {"client_account": synced.pk, "field_names": ["x"]}, format="json")
    assert refused.status_code == 403
    bad = api_as(tenant.staff).post("/api/v1/ignored-form-fields/",
                                    {"client_account": synced.pk, "field_names": ["<script>"]}, format="json")
    assert bad.status_code == 400
    assert "field_names" in bad.json()
