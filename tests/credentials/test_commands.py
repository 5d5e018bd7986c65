"""Operator commands: add_credential, import_accounts and add_client_account (which creates or reuses a
credential). Keys come from CALLRAIL_API_KEY or standard input; a key given as an argument is refused in
one line that does not echo it; a key CallRail refuses keeps nothing."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.management import CommandError, call_command

from apps.credentials.models import Credential
from apps.sandbox.keys import MULTI_ACCOUNT_KEY
from apps.sandbox.seed import DEMO_ACCOUNTS, GATEWAY_KEY
from apps.sync.models import SyncRun
from apps.tenancy.models import Agency, ClientAccount

from .conftest import THREE

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

ROOT = Path(__file__).resolve().parents[2]
A = DEMO_ACCOUNTS[0]


def run(*args, stdin: str = "") -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    real_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out, stderr=err)
    finally:
        sys.stdin = real_stdin
    return out.getvalue(), err.getvalue()


def key_requests(sandbox, key: str) -> int:
    return requests.get(f"{sandbox.url}/_sandbox/usage/key?key={key}", timeout=10).json()["all"]["requests"]


@pytest.fixture
def agency(db):
    return Agency.objects.create(name="Northwind", slug="northwind")


@pytest.fixture
def no_key_variable(monkeypatch):
    monkeypatch.delenv("CALLRAIL_API_KEY", raising=False)


def test_add_client_account_checks_the_key_with_one_request_and_makes_a_credential(agency, sandbox, monkeypatch):
    monkeypatch.setenv("CALLRAIL_API_KEY", A.api_key)
    out, _ = run("add_client_account", "--agency", "northwind", "--account-id", A.account_id, "--name", "Summit",
                 "--base-url", sandbox.url)  # fmt: skip
    account = ClientAccount.objects.unscoped(reason="admin").get(agency=agency)
    assert f"Added Summit ({A.account_id}) in Northwind, through the credential “Summit key”" in out
    assert account.api_key == A.api_key
    assert account.time_zone == "America/Denver"  # read from CallRail with that one request
    assert key_requests(sandbox, A.api_key) == 1


def test_add_client_account_reuses_the_credential_holding_the_same_key(agency, sandbox, monkeypatch):
    monkeypatch.setenv("CALLRAIL_API_KEY", MULTI_ACCOUNT_KEY)
    for account_id, name in ((THREE[0], "Summit"), (THREE[1], "Lakeside")):
        run("add_client_account", "--agency", "northwind", "--account-id", account_id, "--name", name,
            "--base-url", sandbox.url)  # fmt: skip
    assert Credential.objects.filter(agency=agency).count() == 1
    assert ClientAccount.objects.unscoped(reason="admin").filter(credential__agency=agency).count() == 2


def test_a_key_callrail_refuses_keeps_nothing(agency, sandbox, monkeypatch):
    monkeypatch.setenv("CALLRAIL_API_KEY", "not-a-key-callrail-knows")
    with pytest.raises(CommandError, match="CallRail refused the key"):
        run("add_client_account", "--agency", "northwind", "--account-id", A.account_id, "--name", "Summit",
            "--base-url", sandbox.url)  # fmt: skip
    assert not ClientAccount.objects.unscoped(reason="admin").filter(agency=agency).exists()
    assert not Credential.objects.filter(agency=agency).exists()


def test_no_check_keeps_the_key_without_a_request(agency, sandbox, monkeypatch):
    monkeypatch.setenv("CALLRAIL_API_KEY", "unchecked-key")
    run("add_client_account", "--agency", "northwind", "--account-id", A.account_id, "--name", "Summit",
        "--base-url", sandbox.url, "--no-check", "--time-zone", "America/Chicago")  # fmt: skip
    account = ClientAccount.objects.unscoped(reason="admin").get(agency=agency)
    assert (account.api_key, account.time_zone) == ("unchecked-key", "America/Chicago")
    assert requests.get(f"{sandbox.url}/_sandbox/requests", timeout=10).json()["requests"] == []


def test_add_client_account_is_idempotent_and_reads_stdin(agency, sandbox, no_key_variable):
    args = ["add_client_account", "--agency", "northwind", "--account-id", A.account_id, "--name", "Summit",
            "--auth", "gateway", "--base-url", sandbox.url]  # fmt: skip
    run(*args, "--connection-id", A.connection_id, stdin=f"{GATEWAY_KEY}\n")
    out, _ = run(*[a if a != "Summit" else "Summit Dental" for a in args], "--connection-id",
                 A.connection_id, stdin="")  # fmt: skip
    account = ClientAccount.objects.unscoped(reason="admin").get(agency=agency)
    assert "Updated Summit Dental" in out
    assert (account.name, account.api_key, account.connection_id, account.auth_mode) == (
        "Summit Dental", GATEWAY_KEY, A.connection_id, "gateway",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--agency", "nope", "--account-id", A.account_id], "k", "No agency with slug 'nope'"),
        (["--agency", "northwind", "--account-id", "ACC12"], "k", "ACC followed by 32"),
        (["--agency", "northwind", "--account-id", A.account_id], "", "No API key"),
        (["--agency", "northwind", "--account-id", A.account_id, "--base-url", "http://10.1.2.3:6379"], "k",
         "CALLRAIL_ALLOWED_BASE_URLS"),
    ],
)
def test_add_client_account_errors(agency, no_key_variable, args, stdin, message):
    with pytest.raises(CommandError, match=message):
        run("add_client_account", *args, "--name", "Dental", stdin=stdin)
    assert not ClientAccount.objects.unscoped(reason="admin").filter(agency=agency).exists()
    assert not Credential.objects.filter(agency=agency).exists()


def test_add_credential_prints_its_id_and_import_accounts_lists_and_imports(agency, sandbox, monkeypatch):
    monkeypatch.setenv("CALLRAIL_API_KEY", MULTI_ACCOUNT_KEY)
    out, err = run("add_credential", "--agency", "northwind", "--name", "Agency key", "--base-url", sandbox.url)
    credential = Credential.objects.get(agency=agency)
    assert out.strip() == str(credential.pk)
    assert "Added Agency key" in err
    again, _ = run("add_credential", "--agency", "northwind", "--name", "Agency key", "--base-url", sandbox.url)
    assert again.strip() == str(credential.pk)  # idempotent
    listed, _ = run("import_accounts", "--credential", str(credential.pk), "--list")
    assert [line.split()[0] for line in listed.splitlines()] == sorted(THREE, key=lambda a: next(
        d.name for d in DEMO_ACCOUNTS if d.account_id == a))  # fmt: skip
    assert "not connected" in listed
    out, _ = run("import_accounts", "--credential", str(credential.pk), "--account", THREE[0], "--no-sync")
    assert "1 account(s) imported into Northwind" in out
    with pytest.raises(CommandError, match="already connected in Northwind"):
        run("import_accounts", "--credential", str(credential.pk), "--account", THREE[0], THREE[1])
    out, _ = run("import_accounts", "--credential", str(credential.pk), "--all")
    assert "2 account(s) imported into Northwind; first syncs queued" in out
    accounts = ClientAccount.objects.unscoped(reason="admin").filter(credential=credential)
    assert accounts.count() == 3
    assert SyncRun.objects.unscoped(reason="admin").filter(client_account__in=accounts).count() == 2
    with pytest.raises(CommandError, match="does not reach"):
        run("import_accounts", "--credential", str(credential.pk), "--account", DEMO_ACCOUNTS[3].account_id)


def test_add_credential_refuses_a_key_that_reaches_no_account(agency, sandbox, monkeypatch):
    empty = requests.post(f"{sandbox.url}/_sandbox/keys", json={"accounts": []}, timeout=10).json()["key"]
    monkeypatch.setenv("CALLRAIL_API_KEY", empty)
    with pytest.raises(CommandError, match="reaches no account"):
        run("add_credential", "--agency", "northwind", "--name", "Empty", "--base-url", sandbox.url)
    assert not Credential.objects.filter(agency=agency).exists()


@pytest.mark.parametrize("command", ["add_client_account", "add_credential"])
@pytest.mark.parametrize("flag", [["--api-key", "sk-secret-1234"], ["--api-key=sk-secret-1234"]])
def test_a_key_given_as_an_argument_is_refused_in_one_line_without_echoing_it(command, flag):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "agency_portal.settings.test", "REDIS_URL": settings.REDIS_URL}
    result = subprocess.run(
        [sys.executable, "manage.py", command, "--agency", "x", *flag], cwd=ROOT, capture_output=True, text=True,
        env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "sk-secret-1234" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "CALLRAIL_API_KEY" in lines[0]
    assert "standard input" in lines[0]


def test_help_names_the_key_variable_and_offers_no_key_option():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "agency_portal.settings.test", "REDIS_URL": settings.REDIS_URL}
    result = subprocess.run([sys.executable, "manage.py", "add_client_account", "--help"], cwd=ROOT,
                            capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert "--api-key" not in result.stdout
    assert "CALLRAIL_API_KEY" in result.stdout
