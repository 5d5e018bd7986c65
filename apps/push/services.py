"""Outbox services: record an edit for CallRail (called by every mirror app's write service inside its
transaction), retry or discard an entry, and drain an account now.

``PushRefused`` is raised by the write services for a value CallRail would refuse, before anything is
saved or queued, with the reason a person can act on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.queues import interactive_options
from apps.sync.engine import payload_hash

from .engine import norm
from .models import OPEN_STATUSES, PENDING_PREFIX, STUCK_STATUSES, EntryStatus, Operation, OutboxEntry
from .writes import get_write


class PushRefused(ValueError):
    """A value CallRail would refuse; ``field`` names the offending input when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def new_local_id() -> str:
    """The placeholder CallRail id of a row created in the portal (unique; never matches an upstream id)."""
    return f"{PENDING_PREFIX}{uuid.uuid4().hex}"


def local_row_init(row: models.Model) -> None:
    """Fill the mirror bookkeeping columns of a row created in the portal (pending until CallRail answers)."""
    now = timezone.now()
    row.callrail_id = new_local_id()
    row.payload = row.payload or {}  # may carry what the create needs but no column holds (an email)
    row.payload_hash = payload_hash(row.payload)
    row.first_seen_at = row.last_seen_at = row.changed_at = now


#: Set while a bulk job applies its records: their drains go to the ``push`` queue, not a person's.
_bulk_push: ContextVar[bool] = ContextVar("bulk_push", default=False)


@contextmanager
def push_in_background() -> Iterator[None]:
    """The edits made inside (a bulk job's) are drained on the ``push`` queue, behind people's own edits."""
    token = _bulk_push.set(True)
    try:
        yield
    finally:
        _bulk_push.reset(token)


def push_drain_enqueue(account_pk: int, countdown: float | None = None, *, interactive: bool | None = None) -> None:
    """Queue ``push.drain_account`` for the account when the current transaction commits: on the ``interactive``
    queue for a person's own edit (the default outside ``push_in_background``), else on ``push``."""
    from .tasks import push_drain_account_task

    if interactive is None:
        interactive = not _bulk_push.get()
    options = interactive_options(interactive)

    def send() -> None:
        push_drain_account_task.apply_async(kwargs={"client_account_id": account_pk}, countdown=countdown, **options)

    transaction.on_commit(send)


def _column_value(row: models.Model, column: str) -> Any:
    field = row._meta.get_field(column)
    return norm(getattr(row, field.attname))


def outbox_enqueue(
    *,
    row: models.Model,
    resource: str,
    operation: str,
    actor: Any = None,
    before: dict[str, Any] | None = None,
    changes: list[str] | None = None,
    options: dict[str, Any] | None = None,
) -> OutboxEntry:
    """Record an edit of ``row`` (already saved by the caller in this transaction) for CallRail.

    ``before`` holds the columns' values before the edit, ``changes`` the edited columns (their new values
    are read from the row). An older update of the same object not sent yet whose columns this edit all
    covers is superseded (its base is inherited: it is still what CallRail has). Audited.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox_enqueue must run inside the service's transaction")
    get_write(resource)  # validates the name
    account = row.client_account
    columns = list(changes or [])
    values = {c: _column_value(row, c) for c in columns}
    base = {c: norm((before or {}).get(c)) for c in columns} if before is not None else {}
    entry = OutboxEntry(
        client_account=account,
        resource=resource,
        object_pk=row.pk,
        object_repr=str(row)[:200],
        operation=operation,
        changes=values,
        base=base,
        options=options or {},
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )
    older = []
    if operation == Operation.UPDATE and not entry.options.get("append_tags"):
        older = list(
            OutboxEntry.objects.for_account(account)
            .select_for_update()
            .filter(
                resource=resource, object_pk=row.pk, status=EntryStatus.PENDING, operation=Operation.UPDATE, attempts=0
            )
            .order_by("pk")
        )
        older = [o for o in older if set(o.changes) <= set(columns) and not o.options.get("append_tags")]
        for old in older:
            entry.base.update({c: v for c, v in old.base.items() if c in old.changes})
            entry.upstream.update(old.upstream or {})
    entry.save()
    if older:
        OutboxEntry.objects.for_account(account).filter(
            pk__in=[o.pk for o in older], status=EntryStatus.PENDING
        ).update(
            status=EntryStatus.SUPERSEDED, superseded_by=entry, message=f"Superseded by a later edit (#{entry.pk})."
        )
    audit_record(
        agency=account.agency,
        client_account=account,
        action=f"{resource}.{operation}",
        actor=actor,
        obj=row,
        before=base,
        after={**values, **({"options": options} if options else {})},
    )
    push_drain_enqueue(account.pk)
    return entry


def outbox_entry_retry(*, entry: OutboxEntry, actor: Any = None) -> OutboxEntry:
    """Send a failed or conflicting entry again. For a conflict this means "keep mine": the edit is now
    based on what CallRail has."""
    with transaction.atomic():
        entry = OutboxEntry.objects.for_account(entry.client_account_id).select_for_update().get(pk=entry.pk)
        if entry.status not in STUCK_STATUSES:
            return entry
        if entry.status == EntryStatus.CONFLICT:
            entry.base = {**entry.base, **(entry.upstream or {})}
        entry.upstream = {}
        entry.status = EntryStatus.PENDING
        entry.not_before = None
        entry.message = ""
        entry.save()
        account = entry.client_account
        audit_record(agency=account.agency, client_account=account, action="outbox.retry", actor=actor, obj=entry)
        push_drain_enqueue(account.pk)
    return entry


def outbox_entry_discard(*, entry: OutboxEntry, actor: Any = None) -> OutboxEntry:
    """Give up an edit that has not reached CallRail. The local row takes CallRail's values back (what a
    pull saw, else what the edit was based on); a discarded create removes the local row."""
    with transaction.atomic():
        entry = OutboxEntry.objects.for_account(entry.client_account_id).select_for_update().get(pk=entry.pk)
        if entry.status not in (*STUCK_STATUSES, EntryStatus.PENDING):
            return entry
        write = get_write(entry.resource)
        model = write.model_class()
        rows = model.objects.for_account(entry.client_account_id).filter(pk=entry.object_pk)
        row = rows.first()
        later = OutboxEntry.objects.for_account(entry.client_account_id).filter(
            resource=entry.resource, object_pk=entry.object_pk, pk__gt=entry.pk, status__in=(*OPEN_STATUSES,
                                                                                               *STUCK_STATUSES)
        )  # fmt: skip
        if write.model:  # a send (a text): nothing to restore; the row keeps the draft, marked discarded
            pass
        elif row is not None and entry.operation == Operation.CREATE and row.callrail_id.startswith(PENDING_PREFIX):
            later.update(status=EntryStatus.DISCARDED, message=f"Discarded with the create (#{entry.pk}).")
            row.delete()
        elif row is not None and entry.operation == Operation.UPDATE:
            restore = {**entry.base, **(entry.upstream or {})}
            values = {}
            for column, value in restore.items():
                field = model._meta.get_field(column)
                values[field.attname] = field.to_python(value) if not isinstance(field, models.JSONField) else value
            if values:
                rows.update(**values)
        elif row is not None and entry.operation == Operation.DELETE:
            rows.update(deleted_upstream_at=None)
            restore_delete = get_write(entry.resource).delete_sets
            if restore_delete and row.payload:
                from apps.push.engine import apply_answer

                apply_answer(account=row.client_account, write=get_write(entry.resource), row=row, record=row.payload)
        entry.status = EntryStatus.DISCARDED
        entry.message = "Discarded; the portal shows CallRail's value again."
        entry.save(update_fields=["status", "message", "updated_at"])
        account = entry.client_account
        audit_record(agency=account.agency, client_account=account, action="outbox.discard", actor=actor, obj=entry)
        push_drain_enqueue(account.pk)
    return entry


def push_drain_now(*, account: Any) -> None:
    """Queue a drain of the account's outbox (manage.py push_outbox, the outbox page): the whole outbox, on
    the ``push`` queue (the command waits for a worker of that queue)."""
    with transaction.atomic():
        push_drain_enqueue(account.pk, interactive=False)


# ------------------------------------------------------------------ the three writes every mirror app uses
def mirror_row_create(*, row: models.Model, resource: str, actor: Any = None, options: dict | None = None):
    """Save a row created in the portal (pending: a placeholder CallRail id) and queue its create."""
    with transaction.atomic():
        local_row_init(row)
        row.save()
        outbox_enqueue(row=row, resource=resource, operation=Operation.CREATE, actor=actor, options=options)
    return row


def mirror_row_update(
    *, row: models.Model, resource: str, values: dict[str, Any], actor: Any = None, options: dict | None = None
):
    """Set ``values`` (column -> value) on a mirrored row and queue the update; columns whose value does
    not change are not sent. Returns the row (unchanged and nothing queued when nothing changed)."""
    write = get_write(resource)
    for column in values:
        write.field_for(column)  # only writable columns
    with transaction.atomic():
        row = type(row).objects.for_account(row.client_account_id).select_for_update().get(pk=row.pk)
        before = {c: getattr(row, row._meta.get_field(c).attname) for c in values}
        for column, value in values.items():
            field = row._meta.get_field(column)
            setattr(row, field.attname if field.is_relation else column, getattr(value, "pk", value))
        changed = [c for c in values if not _same_value(before[c], getattr(row, row._meta.get_field(c).attname))]
        if not changed and not (options or {}).get("force"):
            return row
        if row.callrail_id.startswith(PENDING_PREFIX) and _open_create(row, resource):
            # Not in CallRail yet: the queued create will send the new values.
            row.save()
            return row
        row.save()
        outbox_enqueue(
            row=row, resource=resource, operation=Operation.UPDATE, actor=actor,
            before=None if (options or {}).get("append_tags") else before,  # an append cannot conflict
            changes=changed or list(values), options={k: v for k, v in (options or {}).items() if k != "force"},
        )  # fmt: skip
    return row


def mirror_row_delete(*, row: models.Model, resource: str, actor: Any = None):
    """Delete (or disable, where CallRail disables) a mirrored row and queue it. The row is kept, marked."""
    write = get_write(resource)
    with transaction.atomic():
        row = type(row).objects.for_account(row.client_account_id).select_for_update().get(pk=row.pk)
        if row.callrail_id.startswith(PENDING_PREFIX) and _open_create(row, resource):
            OutboxEntry.objects.for_account(row.client_account_id).filter(
                resource=resource, object_pk=row.pk, status__in=(EntryStatus.PENDING,)
            ).update(status=EntryStatus.DISCARDED, message="Deleted before it reached CallRail.")
            row.delete()
            return None
        now = timezone.now()
        if write.delete_sets:
            for column, value in write.delete_sets.items():
                setattr(row, column, value)
            if hasattr(row, "disabled_at"):
                row.disabled_at = now
        else:
            row.deleted_upstream_at = now
        row.save()
        outbox_enqueue(row=row, resource=resource, operation=Operation.DELETE, actor=actor)
    return row


def _open_create(row: models.Model, resource: str) -> bool:
    return (
        OutboxEntry.objects.for_account(row.client_account_id)
        .filter(resource=resource, object_pk=row.pk, operation=Operation.CREATE, status=EntryStatus.PENDING, attempts=0)
        .exists()
    )


def _same_value(a: Any, b: Any) -> bool:
    from .engine import same

    return same(a, b)
