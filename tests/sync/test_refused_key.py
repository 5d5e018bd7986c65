"""A key CallRail refuses stops the account's sync, says so on the account, and is not retried forever."""

import pytest

from apps.sync.models import SyncRun, SyncStatus
from apps.sync.services import sync_dispatch
from apps.tenancy.models import ClientAccount
from tests.sync.conftest import execute

pytestmark = pytest.mark.django_db


def test_a_refused_key_stops_sync_until_the_key_changes(sandbox_account):
    sandbox_account.api_key = "a-key-callrail-does-not-know"
    sandbox_account.save()
    run = execute(sandbox_account, resources=["companies", "tags"])
    assert run.status == SyncStatus.FAILED
    account = ClientAccount.objects.for_account(sandbox_account).get()
    assert account.connection_error.startswith(f"CallRail rejected the key for account {account.callrail_account_id}")
    before = SyncRun.objects.for_account(account).count()
    dispatched = sync_dispatch()
    assert dispatched  # the schedule runs for the other accounts…
    assert all(r.client_account_id != account.pk for r in dispatched)  # …and leaves this one alone
    assert SyncRun.objects.for_account(account).count() == before
