"""The operator commands that act on named client accounts (``sync_account``, ``push_outbox``,
``export_account``): one rule for an account connected in several agencies, and no silent wait for a worker."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import CommandError, call_command

from apps.sync.models import SyncRun
from tests.factories import AgencyFactory, ClientAccountFactory

pytestmark = pytest.mark.django_db

COMMANDS = ("sync_account", "push_outbox", "export_account")


@pytest.fixture
def shared(tenant, other_tenant):
    """The same CallRail account connected in both agencies (each has its own client account for it)."""
    twin = ClientAccountFactory(
        agency=other_tenant.agency, name="Globex's copy", callrail_account_id=tenant.account.callrail_account_id
    )
    return tenant.account, twin


@pytest.mark.parametrize("command", COMMANDS)
def test_an_account_in_two_agencies_is_acted_on_only_once_named(command, shared, tmp_path, settings):
    settings.OPERATIONS_EXPORT_DIR = tmp_path
    mine, twin = shared
    ref = mine.callrail_account_id
    with pytest.raises(CommandError) as refused:
        call_command(command, ref, stdout=io.StringIO())
    slugs = ", ".join(sorted([mine.agency.slug, twin.agency.slug]))
    assert str(refused.value) == f"{ref} is connected in several agencies ({slugs}): name one with --agency."
    assert SyncRun.objects.unscoped(reason="system-check").count() == 0
    assert list(tmp_path.iterdir()) == []

    out = io.StringIO()
    call_command(command, ref, "--agency", twin.agency.slug, stdout=out)
    assert out.getvalue().startswith(f"{twin.agency.slug}/{twin.name}"), out.getvalue()
    assert mine.agency.slug not in out.getvalue()
    if command == "sync_account":
        assert SyncRun.objects.for_account(twin).count() == 1
        assert SyncRun.objects.for_account(mine).count() == 0
    # the portal's own id is unambiguous by itself
    out = io.StringIO()
    call_command(command, str(mine.pk), stdout=out)
    assert out.getvalue().startswith(f"{mine.agency.slug}/{mine.name}"), out.getvalue()


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_names_are_refused_alike(command, tenant):
    with pytest.raises(CommandError, match=r"^No client account for: ACC0+$"):
        call_command(command, "ACC" + "0" * 32)
    with pytest.raises(CommandError, match=r"^No agency 'nowhere'\.$"):
        call_command(command, tenant.account.callrail_account_id, "--agency", "nowhere")
    elsewhere = AgencyFactory(name="Initech").slug
    with pytest.raises(CommandError, match=rf"^No client account in agency '{elsewhere}' for: ACC"):
        call_command(command, tenant.account.callrail_account_id, "--agency", elsewhere)


@pytest.mark.parametrize(("command", "queue"), [("sync_account", "sync"), ("push_outbox", "push")])
def test_wait_with_no_worker_says_so_and_exits_non_zero(command, queue, tenant):
    started = time.monotonic()
    with pytest.raises(CommandError, match=f"No Celery worker answers on the '{queue}' queue"):
        call_command(command, tenant.account.callrail_account_id, "--wait", stdout=io.StringIO())
    assert time.monotonic() - started < 60  # a few seconds of asking, never the hour of --timeout
    assert SyncRun.objects.unscoped(reason="system-check").count() == 0  # nothing queued that nobody runs
