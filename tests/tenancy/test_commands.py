"""Operator commands: create_agency and add_client_account are idempotent and fail clearly."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from apps.tenancy.models import Agency, ClientAccount, Membership, Role, User

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

ACC = "ACC8154748ae6bd4e278a7cddd38a662f4f"
ROOT = Path(__file__).resolve().parents[2]


def run(*args, stdin: str = "") -> str:
    out = io.StringIO()
    real_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out)
    finally:
        sys.stdin = real_stdin
    return out.getvalue()


def test_create_agency_creates_owner_and_emails_a_password_link(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        output = run("create_agency", "Northwind Marketing", "--owner-email", "Owner@Northwind.test")
    agency = Agency.objects.get(slug="northwind-marketing")
    owner = User.objects.get(email="owner@northwind.test")
    assert "Created Northwind Marketing" in output
    assert Membership.objects.get(agency=agency, user=owner).role == Role.OWNER
    assert not owner.has_usable_password()
    assert len(mail.outbox) == 1
    assert "/reset/" in mail.outbox[0].body


def test_create_agency_is_idempotent(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run("create_agency", "Northwind", "--owner-email", "o@n.test")
        output = run("create_agency", "Northwind", "--owner-email", "o@n.test")
    assert "already exists" in output
    assert Agency.objects.count() == 1
    assert Membership.objects.count() == 1
    assert len(mail.outbox) == 1  # the existing owner is not emailed again


@pytest.mark.parametrize(("name", "email", "message"), [("  ", "o@n.test", "needs a name"), ("X", "nope", "email")])
def test_create_agency_refuses_bad_input(name, email, message):
    with pytest.raises(CommandError, match=message):
        run("create_agency", name, "--owner-email", email)
    assert Agency.objects.count() == 0


@pytest.fixture
def agency(db):
    return Agency.objects.create(name="Northwind", slug="northwind")


def test_add_client_account_reads_the_key_from_the_environment(agency, monkeypatch):
    monkeypatch.setenv("CALLRAIL_API_KEY", "env-secret-key")
    args = ["--agency", "northwind", "--account-id", ACC, "--name", "Dental", "--auth", "direct"]
    output = run("add_client_account", *args)
    account = ClientAccount.objects.for_account(agency.client_accounts.get()).get()
    assert "Added Dental" in output
    assert account.api_key == "env-secret-key"


def test_add_client_account_reads_stdin_and_is_idempotent(agency, monkeypatch):
    monkeypatch.delenv("CALLRAIL_API_KEY", raising=False)
    args = ["add_client_account", "--agency", "northwind", "--account-id", ACC, "--name", "Dental"]
    run(*args, "--auth", "gateway", "--connection-id", "c-1", "--base-url", "http://127.0.0.1:9", stdin="k1\n")
    output = run(*args, "--auth", "gateway", "--connection-id", "c-2", stdin="")
    account = agency.client_accounts.get()
    assert "Updated Dental" in output
    assert (account.api_key, account.connection_id, account.auth_mode) == ("k1", "c-2", "gateway")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--agency", "nope", "--account-id", ACC], "k", "No agency with slug 'nope'"),
        (["--agency", "northwind", "--account-id", "ACC12"], "k", "ACC followed by 32"),
        (["--agency", "northwind", "--account-id", ACC], "", "No API key"),
    ],
)
def test_add_client_account_errors(agency, monkeypatch, args, stdin, message):
    monkeypatch.delenv("CALLRAIL_API_KEY", raising=False)
    with pytest.raises(CommandError, match=message):
        run("add_client_account", *args, "--name", "Dental", stdin=stdin)
    assert not agency.client_accounts.exists()


def test_key_is_never_accepted_as_an_argument():
    result = subprocess.run(
        [sys.executable, "manage.py", "add_client_account", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert "--api-key" not in result.stdout
    assert "CALLRAIL_API_KEY" in result.stdout
