"""The audit log pages, and the acting person recorded without each service passing it along."""

import pytest
from django.urls import reverse

from apps.audit.context import AuditContext, audit_context
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record

pytestmark = [pytest.mark.django_db]


def test_a_change_made_in_a_request_is_recorded_with_person_address_and_way(tenant, client):
    client.force_login(tenant.owner)
    membership = tenant.staff.memberships.get()
    url = reverse("tenancy:membership_action", kwargs={"pk": membership.pk, "action": "deactivate"})
    client.post(url, REMOTE_ADDR="203.0.113.7")
    event = AuditEvent.objects.get(action="membership.deactivate")
    assert (event.actor, event.via, event.ip_address) == (tenant.owner, "web", "203.0.113.7")


def test_outside_a_request_the_context_decides_and_a_command_is_the_default(tenant):
    assert audit_record(agency=tenant.agency, action="x.command").via == "command"
    with audit_context(AuditContext(actor_id=tenant.admin.pk, via="task", ip_address="198.51.100.1")):
        event = audit_record(agency=tenant.agency, action="x.task")
    assert (event.actor, event.via, event.ip_address) == (tenant.admin, "task", "198.51.100.1")


def test_agency_log_lists_filters_and_shows_changes(tenant, other_tenant, client):
    audit_record(
        agency=tenant.agency,
        action="tag.update",
        actor=tenant.staff,
        client_account=tenant.account,
        before={"color": "red1", "name": "VIP"},
        after={"color": "blue1", "name": "VIP"},
    )
    audit_record(agency=tenant.agency, action="membership.update", actor=tenant.owner)
    audit_record(agency=other_tenant.agency, action="tag.delete", actor=other_tenant.owner)
    client.force_login(tenant.owner)
    page = client.get(reverse("audit:agency_log")).content.decode()
    assert "tag.update" in page
    assert "membership.update" in page
    assert "tag.delete" not in page
    assert "<del>red1</del> → blue1" in page
    assert "<strong>name</strong>" not in page
    filtered = client.get(reverse("audit:agency_log"), {"action": "tag", "actor": tenant.staff.email}).content.decode()
    assert "tag.update" in filtered
    assert "membership.update" not in filtered
    bad = client.get(reverse("audit:agency_log"), {"start": "2026-02-01", "end": "2026-01-01"})
    assert "The end date is before the start date." in bad.content.decode()


def test_account_log_shows_only_that_account_and_respects_scope(tenant, client):
    audit_record(agency=tenant.agency, action="call.update", client_account=tenant.account)
    audit_record(agency=tenant.agency, action="call.spam", client_account=tenant.other_account)
    client.force_login(tenant.restricted_staff)  # may see tenant.account only
    page = client.get(reverse("audit:account_log", kwargs={"account_pk": tenant.account.pk})).content.decode()
    assert "call.update" in page
    assert "call.spam" not in page
    assert client.get(reverse("audit:account_log", kwargs={"account_pk": tenant.other_account.pk})).status_code == 404
    agency_wide = client.get(reverse("audit:agency_log")).content.decode()
    assert "call.update" in agency_wide
    assert "call.spam" not in agency_wide


def test_clients_have_no_audit_log(tenant, client):
    client.force_login(tenant.client_user)
    assert client.get(reverse("audit:agency_log")).status_code == 403
    assert client.get(reverse("audit:account_log", kwargs={"account_pk": tenant.account.pk})).status_code == 403
