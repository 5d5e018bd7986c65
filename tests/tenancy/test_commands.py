"""Operator commands: create_agency is idempotent and fails clearly (the key commands: tests/credentials)."""

import io
import sys

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from apps.tenancy.models import Agency, Membership, Role, User

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]



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
