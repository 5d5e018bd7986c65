"""The account deletion page: owners and admins schedule (typing the name) and cancel; others are refused."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.tenancy.models import ClientAccount

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.OPERATIONS_EXPORT_DIR = tmp_path
    return tmp_path


def url(account) -> str:
    return reverse("operations:account_deletion", kwargs={"account_pk": account.pk})


@pytest.mark.parametrize("role", ["staff", "restricted_staff", "client_user"])
def test_only_managers(login, tenant, role):
    client = login(getattr(tenant, role))
    assert client.get(url(tenant.account)).status_code == 403
    assert (
        client.post(url(tenant.account), {"action": "schedule", "confirm_name": tenant.account.name}).status_code == 403
    )
    assert ClientAccount.objects.for_account(tenant.account).get().deletion_due_at is None


def test_schedule_needs_the_name_and_keeps_what_was_typed(login, tenant):
    client = login(tenant.admin)
    response = client.post(url(tenant.account), {"action": "schedule", "confirm_name": "Acme Dentl"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "That is not the account" in html
    assert 'value="Acme Dentl"' in html
    assert ClientAccount.objects.for_account(tenant.account).get().deletion_due_at is None


def test_schedule_then_cancel(login, tenant, export_dir):
    client = login(tenant.owner)
    response = client.post(url(tenant.account), {"action": "schedule", "confirm_name": tenant.account.name})
    assert response.status_code == 302
    account = ClientAccount.objects.for_account(tenant.account).get()
    assert account.deletion_due_at is not None
    assert account.deletion_requested_by == tenant.owner
    assert list(export_dir.glob("*.zip"))
    page = client.get(url(account)).content.decode()
    assert "scheduled for deletion" in page
    assert str(export_dir) not in page  # the file name only, not the server's directory
    assert client.post(url(account), {"action": "cancel"}).status_code == 302
    assert ClientAccount.objects.for_account(tenant.account).get().deletion_due_at is None
