"""Fairness between agencies: a person's "Sync now" (and the push of their own edit) goes to the ``interactive``
queue, so it never waits behind another agency's backlog of scheduled syncs (or bulk jobs)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.urls import reverse

from apps.core.queues import INTERACTIVE_QUEUE
from apps.push.services import push_drain_enqueue, push_in_background
from apps.push.tasks import push_drain_account_task
from apps.sync.models import SyncRun, SyncTrigger
from apps.sync.services import sync_request
from tests.factories import AgencyFactory, ClientAccountFactory
from tests.sync.conftest import _clear_redis, drain_with_one_worker, point_at_sandbox

BACKLOG = 4  # scheduled runs of agency A queued before B's person asks (one per demo account of the sandbox)


@pytest.mark.worker
@pytest.mark.slow
def test_sync_now_of_agency_b_runs_before_agency_a_backlog_is_drained(transactional_db, sandbox, tenant, login):
    other = AgencyFactory(name="Backlog Agency")
    backlog_accounts = [point_at_sandbox(ClientAccountFactory(agency=other), sandbox, i) for i in range(BACKLOG)]
    person_account = point_at_sandbox(tenant.account, sandbox)
    try:
        for account in backlog_accounts:  # what the beat dispatcher queued for agency A (the ``sync`` queue)
            sync_request(account=account, resources=["companies", "tags"], trigger=SyncTrigger.SCHEDULE)
        answer = login(tenant.owner).post(
            reverse("portal:account_sync", args=[person_account.pk]), {"kind": "incremental", "resource": "tags"}
        )
        assert answer.status_code == 302
        person_run = SyncRun.objects.for_account(person_account).get()
        assert (person_run.trigger, person_run.lane) == (SyncTrigger.MANUAL, "interactive")

        # One worker, one task at a time, taking both queues (as the all-queues worker of docker-compose does):
        # the backlog was queued first, so on a single queue B's run would start last.
        order = drain_with_one_worker("sync,interactive", name="fair")
        backlog_before = order.index(person_run.pk)
        # The worker takes the queues in turn: at most the one backlog task it held already goes first.
        assert backlog_before <= 1, order
        assert backlog_before < BACKLOG - 1  # i.e. long before agency A's backlog is drained
    finally:
        for account in [*backlog_accounts, person_account]:
            _clear_redis(account.pk)


def test_a_persons_edit_is_pushed_on_the_interactive_queue_a_bulk_jobs_on_push(
    db, tenant, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks(execute=True)
    with mock.patch.object(push_drain_account_task, "apply_async") as send, capture:
        push_drain_enqueue(tenant.account.pk)  # a person's own edit (outbox_enqueue calls this)
        with push_in_background():  # a bulk job's records
            push_drain_enqueue(tenant.other_account.pk)
    sent = {call.kwargs["kwargs"]["client_account_id"]: call.kwargs.get("queue") for call in send.call_args_list}
    assert sent == {tenant.account.pk: INTERACTIVE_QUEUE, tenant.other_account.pk: None}  # None: the push route


def test_only_the_interactive_lane_goes_to_the_interactive_queue(db, tenant, django_capture_on_commit_callbacks):
    from apps.sync.tasks import sync_run_task

    capture = django_capture_on_commit_callbacks(execute=True)
    with mock.patch.object(sync_run_task, "apply_async") as send, capture:
        sync_request(account=tenant.account, trigger=SyncTrigger.MANUAL, lane="interactive")
        sync_request(account=tenant.other_account, trigger=SyncTrigger.SCHEDULE)
    sent = {call.kwargs["kwargs"]["client_account_id"]: call.kwargs.get("queue") for call in send.call_args_list}
    assert sent == {tenant.account.pk: INTERACTIVE_QUEUE, tenant.other_account.pk: None}  # None: the sync route
