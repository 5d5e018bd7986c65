"""Badges, counts and the task's wiring (no CallRail needed: nothing is drained here)."""

from __future__ import annotations

from django.template.loader import render_to_string

from apps.push.models import EntryStatus, OutboxEntry
from apps.push.selectors import outbox_counts, push_status_for, push_status_map
from apps.push.tasks import push_drain_account_task
from apps.tags import services as tags
from apps.tags.models import Tag


def test_badges_and_counts(tenant, django_capture_on_commit_callbacks):
    account = tenant.account
    with django_capture_on_commit_callbacks() as callbacks:
        tag = tags.tag_create(account=account, name="Fresh", tag_level="account", color="cyan1", actor=tenant.staff)
    assert len(callbacks) == 1  # push.drain_account is queued when the edit commits
    assert push_status_for(tag).state == "pending"
    other = Tag.objects.for_account(account).get(pk=tag.pk)
    OutboxEntry.objects.for_account(account).update(status=EntryStatus.FAILED, message="Name has already been taken")
    badge = push_status_for(other)
    assert (badge.state, badge.message, badge.label) == ("failed", "Name has already been taken", "Failed")
    assert push_status_map(account=account, resource="tags", object_pks=[tag.pk])[tag.pk] == badge
    assert outbox_counts(account) == {"pending": 0, "failed": 1, "conflict": 0, "done_recent": 0}
    assert outbox_counts(tenant.other_account)["failed"] == 0
    html = render_to_string("push/_badge.html", {"badge": badge, "account": account})
    assert "Name has already been taken" in html
    assert f"/accounts/{account.pk}/outbox/" in html
    from apps.audit.models import AuditEvent

    event = AuditEvent.objects.get(action="tags.create")
    assert event.actor == tenant.staff
    assert event.client_account_id == account.pk


def test_the_task_wires_to_the_push_queue_and_skips_missing_accounts(db, settings):
    assert push_drain_account_task.name == "push.drain_account"
    route = settings.CELERY_TASK_ROUTES["push.*"]
    assert route == {"queue": "push"}
    assert push_drain_account_task.run(client_account_id=987654321) == {"missing": True}


def test_the_pull_engine_and_the_outbox_agree_on_the_pending_marker():
    from apps.push.engine import pull_hold
    from apps.push.models import PENDING_PREFIX
    from apps.sync.engine import LOCAL_ID_PREFIX, PENDING_EDIT_HOOKS

    assert PENDING_PREFIX == LOCAL_ID_PREFIX
    assert pull_hold in PENDING_EDIT_HOOKS
