"""Account export and scheduled deletion: every mirrored row exported, removed after the grace period only."""

from __future__ import annotations

import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings

from apps.audit.models import AuditEvent
from apps.calls.models import Call
from apps.operations.services import (
    _tenant_models,
    account_export_write,
    client_account_cancel_deletion,
    client_account_delete_due,
    client_account_schedule_deletion,
    mirror_models,
)
from apps.operations.tasks import delete_due_accounts_task
from apps.push.models import OutboxEntry
from apps.tenancy.models import ClientAccount, Membership

from .conftest import mirror_row

pytestmark = pytest.mark.django_db


def read_export(path: Path) -> dict[str, list[dict]]:
    with zipfile.ZipFile(path) as archive:
        return {
            name.removesuffix(".jsonl"): [json.loads(line) for line in archive.read(name).splitlines()]
            for name in archive.namelist()
            if name.endswith(".jsonl")
        } | {"manifest": [json.loads(archive.read("manifest.json"))]}


def test_export_contains_every_mirrored_row_of_the_account(synced_account, tenant, tmp_path):
    mirror_row(Call, tenant.other_account)  # another account's row stays out
    result = account_export_write(account=synced_account, directory=tmp_path)
    exported = read_export(result.path)
    assert sum(result.counts.values()) > 50  # the sandbox seed: calls, trackers, companies, ...
    for model in mirror_models():
        name = model._meta.label_lower
        rows = exported[name]
        in_db = model.objects.for_account(synced_account)
        assert {r["callrail_id"] for r in rows} == set(in_db.values_list("callrail_id", flat=True)), name
        assert len(rows) == in_db.count() == result.counts[name]
        assert all(r["client_account_id"] == synced_account.pk for r in rows)
    calls = {r["callrail_id"]: r for r in exported["calls.call"]}
    some = Call.objects.for_account(synced_account).first()
    assert calls[some.callrail_id]["payload"] == some.payload  # the full CallRail record
    assert exported["manifest"][0]["callrail_account_id"] == synced_account.callrail_account_id
    raw = b"".join(zipfile.ZipFile(result.path).read(n) for n in zipfile.ZipFile(result.path).namelist())
    assert synced_account.api_key.encode() not in raw
    assert oct(result.path.stat().st_mode & 0o777) == "0o600"


def test_export_account_command(tenant, tmp_path, capsys):
    row = mirror_row(Call, tenant.account)
    call_command("export_account", tenant.account.callrail_account_id, "--directory", str(tmp_path))
    (path,) = tmp_path.glob("*.zip")
    assert [r["callrail_id"] for r in read_export(path)["calls.call"]] == [row.callrail_id]
    assert str(path) in capsys.readouterr().out
    assert AuditEvent.objects.get(action="client_account.exported").after["export"] == path.name


def test_deleting_a_fully_synced_account_removes_every_row(synced_account, tenant, tmp_path, settings):
    settings.OPERATIONS_EXPORT_DIR = tmp_path
    assert tenant_rows(synced_account) > 50
    keep = tenant_rows(tenant.other_account)
    account = client_account_schedule_deletion(account=synced_account, actor=tenant.owner)
    assert delete_due_accounts_task() == []  # not yet due
    assert client_account_delete_due(now=account.deletion_due_at) == [account.pk]
    assert tenant_rows(account) == 0
    assert not ClientAccount.objects.for_account(account).exists()
    assert tenant_rows(tenant.other_account) == keep


def populate(account) -> None:
    from apps.companies.models import Company

    company = mirror_row(Company, account)
    mirror_row(Call, account, company=company)
    mirror_row(Call, account)
    OutboxEntry.objects.create(client_account=account, resource="tags", object_pk=1, operation="update")


def tenant_rows(account) -> int:
    return sum(model.objects.for_account(account).count() for model in _tenant_models())


@override_settings(ACCOUNT_DELETION_GRACE_DAYS=7)
def test_scheduled_deletion_waits_for_the_grace_period(tenant, other_tenant, tmp_path, settings):
    settings.OPERATIONS_EXPORT_DIR = tmp_path
    account = tenant.account
    populate(account)
    populate(tenant.other_account)
    populate(other_tenant.account)
    others = {a.pk: tenant_rows(a) for a in (tenant.other_account, other_tenant.account)}
    account = client_account_schedule_deletion(account=account, actor=tenant.owner)

    assert account.deletion_due_at - account.deletion_requested_at == timedelta(days=7)
    assert not account.sync_enabled
    assert account.sync_enabled_before_deletion is True
    export = read_export(Path(account.deletion_export_path))
    assert len(export["calls.call"]) == 2
    assert len(export["companies.company"]) == 1
    scheduled = AuditEvent.objects.get(action="client_account.deletion_scheduled")
    assert scheduled.actor == tenant.owner
    assert scheduled.client_account_id == account.pk
    with pytest.raises(ValidationError):
        client_account_schedule_deletion(account=account, actor=tenant.owner)

    assert client_account_delete_due(now=account.deletion_due_at - timedelta(minutes=1)) == []
    assert ClientAccount.objects.for_account(account).exists()
    assert tenant_rows(account) == 4

    assert client_account_delete_due(now=account.deletion_due_at + timedelta(seconds=1)) == [account.pk]
    assert not ClientAccount.objects.for_account(account).exists()
    assert tenant_rows(account) == 0
    assert {a: tenant_rows(a) for a in others} == others  # nothing of any other account
    assert not Membership.objects.filter(client_accounts=account.pk).exists()
    assert Membership.objects.filter(pk=tenant.client_user.memberships.get().pk).exists()  # the person stays
    deleted = AuditEvent.objects.get(action="client_account.deleted")
    assert deleted.client_account_id == account.pk
    assert deleted.after["deleted"]["calls.Call"] == 2
    assert Path(account.deletion_export_path).exists()  # the export outlives the account


def test_cancel_keeps_the_account(tenant, tmp_path, settings):
    settings.OPERATIONS_EXPORT_DIR = tmp_path
    populate(tenant.account)
    tenant.account.sync_enabled = False  # was off already: cancelling must not switch it on
    tenant.account.save()
    account = client_account_schedule_deletion(account=tenant.account, actor=tenant.owner)
    account = client_account_cancel_deletion(account=account, actor=tenant.admin)
    assert account.deletion_due_at is None
    assert account.sync_enabled is False
    assert client_account_delete_due(now=account.created_at + timedelta(days=3650)) == []
    assert delete_due_accounts_task() == []
    assert ClientAccount.objects.for_account(account).exists()
    assert tenant_rows(account) == 4
    assert AuditEvent.objects.get(action="client_account.deletion_cancelled").actor == tenant.admin
    with pytest.raises(ValidationError):
        client_account_cancel_deletion(account=account, actor=tenant.admin)
