"""A key CallRail refuses stops the account's sync, says so on the account, and is not retried forever."""

import pytest

from apps.sync.models import SyncRun, SyncStatus
from apps.sync.services import sync_dispatch
from apps.tenancy.models import ClientAccount
from tests.sync.conftest import execute, set_key

pytestmark = pytest.mark.django_db


def test_a_refused_key_stops_sync_until_the_key_changes(sandbox_account):
    set_key(sandbox_account, "a-key-callrail-does-not-know")
    run = execute(sandbox_account, resources=["companies", "tags"])
    assert run.status == SyncStatus.FAILED
    account = ClientAccount.objects.for_account(sandbox_account).get()
    assert account.connection_error.startswith("CallRail refused the key")
    assert account.credential.error == account.connection_error  # shown on the credential as well
    before = SyncRun.objects.for_account(account).count()
    dispatched = sync_dispatch()
    assert dispatched  # the schedule runs for the other accounts…
    assert all(r.client_account_id != account.pk for r in dispatched)  # …and leaves this one alone
    assert SyncRun.objects.for_account(account).count() == before
