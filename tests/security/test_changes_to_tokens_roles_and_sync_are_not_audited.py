"""Finding 8 (low), the parts outside the client-account form: API tokens created and revoked, roles and
memberships changed, sync schedules and sync on/off were missing from the audit log (or unreadable).
Each is recorded with who, when and a readable before/after; never a token's key."""

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.tenancy.models import Membership, Role

pytestmark = [pytest.mark.django_db]


def test_api_tokens_created_and_revoked_are_audited_without_the_key(tenant, login):
    browser = login(tenant.staff)
    response = browser.post(reverse("tenancy:security"), {"action": "create_token", "name": "Reporting script"})
    key = next(m.message for m in response.wsgi_request._messages).rsplit(" ", 1)[-1]
    assert key.startswith("ap_")
    created = AuditEvent.objects.get(action="api_token.create", agency=tenant.agency)
    assert created.actor == tenant.staff
    assert created.after["name"] == "Reporting script"
    assert key not in str(created.before) + str(created.after) + created.object_repr
    token = tenant.staff.api_tokens.get()
    browser.post(reverse("tenancy:security"), {"action": "revoke_token", "token": token.pk})
    revoked = AuditEvent.objects.get(action="api_token.revoke", agency=tenant.agency)
    assert revoked.actor == tenant.staff
    assert revoked.object_repr == str(token)


def test_role_account_and_company_changes_are_audited_readably(tenant, login):
    staff = Membership.objects.get(user=tenant.restricted_staff)
    browser = login(tenant.owner)
    browser.post(reverse("tenancy:member_edit", kwargs={"pk": staff.pk}),
                 {"role": Role.CLIENT, "client_accounts": [tenant.account.pk, tenant.other_account.pk]})  # fmt: skip
    event = AuditEvent.objects.get(action="membership.update")
    assert (event.before["role"], event.after["role"]) == ("Staff", "Client")
    assert event.before["accounts"] == [tenant.account.name]
    assert event.after["accounts"] == sorted([tenant.account.name, tenant.other_account.name])
    browser.post(reverse("tenancy:membership_action", kwargs={"pk": staff.pk, "action": "deactivate"}))
    event = AuditEvent.objects.get(action="membership.deactivate")
    assert (event.before, event.after) == ({"active": True}, {"active": False})
    log = browser.get(reverse("audit:agency_log")).content.decode()
    assert "<del>Staff</del> → Client" in log


def test_sync_schedule_and_sync_on_off_are_audited(tenant, login):
    browser = login(tenant.admin)
    account = tenant.account.pk
    browser.post(reverse("portal:account_schedule", args=[account]), {
        "incremental_every_minutes": 30, "full_every_hours": 24, "full_at_hour": 3,
    })  # fmt: skip
    schedule = AuditEvent.objects.get(action="sync_schedule.update")
    assert (schedule.actor, schedule.client_account_id) == (tenant.admin, account)
    assert (schedule.before["incremental_every_minutes"], schedule.after["incremental_every_minutes"]) == (10, 30)
    assert "full_every_hours" not in schedule.after  # only what changed
    browser.post(reverse("portal:account_sync_pause", args=[account]), {"enabled": "0"})
    paused = AuditEvent.objects.get(action="client_account.sync_pause")
    assert (paused.before, paused.after) == ({"sync_enabled": True}, {"sync_enabled": False})
