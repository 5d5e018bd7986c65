"""A run gives its worker back after ``SYNC_SLICE_SECONDS``: it stops after a committed page, its checkpoint
saved, waits at the tail of its queue and continues from there — the mirror ends up the same, nothing twice."""

from __future__ import annotations

from unittest import mock

import pytest

from apps.sync.engine import SliceOver
from apps.sync.models import SyncKind, SyncRun, SyncState, SyncStatus
from apps.sync.resources import resource_names
from apps.sync.services import sync_run_execute
from apps.sync.tasks import sync_run_task

from .test_full_sync import assert_mirror_equals_upstream

pytestmark = pytest.mark.django_db


def test_a_full_sync_in_slices_resumes_from_its_checkpoint_to_the_same_mirror(sandbox, sandbox_account, settings):
    sandbox.reset(seed=1, profile="small", calls_per_account=1200)  # several pages of 250 calls
    settings.SYNC_SLICE_SECONDS = 1e-6  # every page of calls ends a slice
    run = SyncRun.objects.create(client_account=sandbox_account, kind=SyncKind.FULL, resources=resource_names())
    slices, afters = 0, []
    while True:
        try:
            run = sync_run_execute(run=run)
            break
        except SliceOver:
            slices += 1
            run.refresh_from_db()
            assert run.status == SyncStatus.WAITING
            assert run.not_before is not None
            checkpoint = SyncState.objects.for_account(sandbox_account).get(resource="calls").checkpoint
            afters.append(checkpoint["after"])  # the last committed call's time: where the next slice starts
            assert slices < 50, afters
    assert run.status == SyncStatus.SUCCEEDED, run.errors
    assert run.errors == []  # a slice is no error
    assert slices >= 4
    assert run.progress["slices"] == slices
    assert afters == sorted(afters)
    assert len(set(afters)) == len(afters)  # each slice went further
    assert SyncState.objects.for_account(sandbox_account).get(resource="calls").checkpoint == {}
    assert_mirror_equals_upstream(sandbox_account)


def test_without_slices_the_same_run_goes_through_at_once(sandbox, sandbox_account, settings):
    settings.SYNC_SLICE_SECONDS = 0
    run = SyncRun.objects.create(client_account=sandbox_account, kind=SyncKind.FULL, resources=["calls"])
    run = sync_run_execute(run=run)
    assert run.status == SyncStatus.SUCCEEDED
    assert "slices" not in run.progress


def test_the_task_sends_a_sliced_run_to_the_tail_of_its_queue(tenant):
    run = SyncRun.objects.create(client_account=tenant.account, kind=SyncKind.FULL, resources=["calls"])
    kwargs = {"client_account_id": tenant.account.pk, "sync_run_id": run.pk}
    with (
        mock.patch("apps.sync.services.sync_run_execute", side_effect=SliceOver),
        mock.patch.object(sync_run_task, "apply_async") as send,
    ):
        assert sync_run_task.apply(kwargs=kwargs).get() == "sliced"
    send.assert_called_once_with(kwargs={**kwargs, "failures": 0})  # no countdown (an eta would skip the queue)
