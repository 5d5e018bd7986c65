"""Invitations, member management and agency settings."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.tenancy.models import ClientAccount, Invitation, Membership, Role, User
from tests.factories import TEST_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def invite(client, capture, email="new@client.test", role="client", accounts=()):
    with capture(execute=True):
        return client.post(
            reverse("tenancy:members"), {"email": email, "role": role, "client_accounts": [a.pk for a in accounts]}
        )


def link_from_mail() -> str:
    return re.search(r"https?://[^/\s]+(/invitations/\S+/)", mail.outbox[-1].body).group(1)


def test_invited_client_sets_a_password_and_sees_only_its_account(
    login, client, tenant, django_capture_on_commit_callbacks
):
    response = invite(login(tenant.owner), django_capture_on_commit_callbacks, accounts=[tenant.account])
    assert response.status_code == 302
    link = link_from_mail()
    client.logout()
    assert b"Join Acme" in client.get(link).content
    data = {"full_name": "New Client", "password1": "a-fine-pass-77", "password2": "a-fine-pass-77"}
    response = client.post(link, data)
    assert response.status_code == 302
    user = User.objects.get(email="new@client.test")
    assert set(ClientAccount.objects.visible_to(user).values_list("pk", flat=True)) == {tenant.account.pk}
    assert AuditEvent.objects.filter(action="invitation.accept", actor=user).exists()
    # single use
    response = client.post(link, {"password1": "another-pass-88", "password2": "another-pass-88"})
    assert b"no longer works" in response.content
    assert Membership.objects.filter(user=user).count() == 1


def test_expired_and_revoked_links_look_the_same_as_unknown_ones(login, tenant, django_capture_on_commit_callbacks):
    client = login(tenant.owner)
    invite(client, django_capture_on_commit_callbacks, accounts=[tenant.account])
    link = link_from_mail()
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert b"no longer works" in client.get(link).content
    assert b"no longer works" in client.get("/invitations/made-up-token/").content


def test_resend_issues_a_new_link_and_revoke_kills_it(login, tenant, django_capture_on_commit_callbacks):
    client = login(tenant.owner)
    invite(client, django_capture_on_commit_callbacks, accounts=[tenant.account])
    first = link_from_mail()
    invitation = Invitation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("tenancy:invitation_action", args=[invitation.pk, "resend"]))
    second = link_from_mail()
    assert first != second
    assert b"no longer works" in client.get(first).content
    client.post(reverse("tenancy:invitation_action", args=[invitation.pk, "revoke"]))
    assert b"no longer works" in client.get(second).content


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "not-an-email", "role": "staff"}, "email", "valid email"),
        ({"email": "c@x.test", "role": "client"}, "client_accounts", "at least one client account"),
    ],
)
def test_invitation_form_rejects_bad_input(login, tenant, data, field, message):
    response = login(tenant.owner).post(reverse("tenancy:members"), data)
    assert response.status_code == 400
    assert any(message in e for e in response.context["form"].errors[field])
    assert data["email"] in response.content.decode()  # what was typed is kept
    assert not Invitation.objects.exists()


def test_existing_member_cannot_be_invited_again(login, tenant):
    response = login(tenant.owner).post(reverse("tenancy:members"), {"email": tenant.staff.email, "role": "staff"})
    assert "already a member" in response.content.decode()


def test_admin_cannot_grant_owner_and_nobody_can_grant_another_agencys_account(login, tenant, other_tenant):
    client = login(tenant.admin)
    response = client.post(reverse("tenancy:members"), {"email": "x@y.test", "role": "owner"})
    assert "cannot grant this role" in response.content.decode()
    response = client.post(
        reverse("tenancy:members"),
        {"email": "x@y.test", "role": "client", "client_accounts": [other_tenant.account.pk]},
    )
    assert response.status_code == 400
    assert not Invitation.objects.exists()


def test_staff_and_clients_cannot_manage_members(login, tenant):
    for user in (tenant.staff, tenant.client_user):
        assert login(user).get(reverse("tenancy:members")).status_code == 403
        assert login(user).post(reverse("tenancy:members"), {"email": "a@b.test", "role": "staff"}).status_code == 403


def test_members_of_another_agency_cannot_be_touched(login, tenant, other_tenant):
    foreign = other_tenant.staff.memberships.get()
    response = login(tenant.owner).post(reverse("tenancy:membership_action", args=[foreign.pk, "deactivate"]))
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.is_active


def test_deactivated_member_loses_access_but_keeps_history(login, tenant):
    membership = tenant.staff.memberships.get()
    login(tenant.owner).post(reverse("tenancy:membership_action", args=[membership.pk, "deactivate"]))
    membership.refresh_from_db()
    assert not membership.is_active
    assert User.objects.filter(pk=tenant.staff.pk).exists()
    assert not ClientAccount.objects.visible_to(User.objects.get(pk=tenant.staff.pk)).exists()
    assert AuditEvent.objects.filter(action="membership.deactivate", object_id=str(membership.pk)).exists()


def test_the_last_owner_cannot_step_down(login, tenant):
    owner_membership = tenant.owner.memberships.get()
    response = login(tenant.owner).post(
        reverse("tenancy:membership_action", args=[owner_membership.pk, "update"]), {"role": "admin"}, follow=True
    )
    assert "at least one active owner" in response.content.decode()
    owner_membership.refresh_from_db()
    assert owner_membership.role == "owner"


def test_branding_settings_and_logo_validation(login, tenant, client):
    client = login(tenant.owner)
    url = reverse("tenancy:agency_settings")
    png = SimpleUploadedFile("logo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, content_type="image/png")
    settings = {"name": "Acme", "primary_colour": "#123456", "retention_months": 13}
    response = client.post(url, {**settings, "logo_upload": png})
    assert response.status_code == 302
    tenant.agency.refresh_from_db()
    assert tenant.agency.retention_months == 13
    assert client.get(reverse("tenancy:agency_logo")).content.startswith(b"\x89PNG")
    assert "--bar: #123456" in client.get(reverse("portal:dashboard")).content.decode()  # the brand colour
    exe = SimpleUploadedFile("x.exe", b"MZ", content_type="application/octet-stream")
    response = client.post(url, {**settings, "logo_upload": exe})
    assert "PNG, JPEG, WebP or SVG" in response.content.decode()
    response = client.post(url, {**settings, "primary_colour": "blue"})
    assert "#RRGGBB" in response.content.decode()
    response = client.post(url, {**settings, "retention_months": 0})
    assert "greater than or equal to 1" in response.content.decode()


def test_a_page_reads_the_logo_bytes_and_the_membership_once_at_most(login, tenant):
    """The logo (up to 256 KB) is read by its own view only, not with the agency of every request or every
    account listed; the role, the access scope and ``request.membership`` come from one membership query."""
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    logo = b"\x89PNG\r\n\x1a\n" + b"0" * 2000
    type(tenant.agency).objects.filter(pk=tenant.agency.pk).update(logo=logo, logo_content_type="image/png")
    client = login(tenant.owner)
    logo_column = re.compile(r'"tenancy_agency"\."logo"(?!_)')
    for url in (reverse("portal:dashboard"), reverse("operations:system"), reverse("tenancy:agency_settings")):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, url
        assert reverse("tenancy:agency_logo") in response.content.decode(), url  # the brand still shows it
        assert not [q["sql"] for q in captured.captured_queries if logo_column.search(q["sql"])], url
        memberships = [q["sql"] for q in captured.captured_queries
                       if 'FROM "tenancy_membership"' in q["sql"] and "require_two_factor" not in q["sql"]]  # fmt: skip
        assert len(memberships) == 1, (url, memberships)
        assert "Owner" in response.content.decode()  # request.membership: the role beside the name
    assert client.get(reverse("tenancy:agency_logo")).content == logo


def test_invited_existing_user_joins_without_changing_password(
    login, client, tenant, other_tenant, django_capture_on_commit_callbacks
):
    invite(login(tenant.owner), django_capture_on_commit_callbacks, email=other_tenant.staff.email, role="staff")
    link = link_from_mail()
    client.logout()
    assert client.post(link, {}).status_code == 302
    user = User.objects.get(pk=other_tenant.staff.pk)
    assert user.check_password(TEST_PASSWORD)
    assert user.memberships.filter(agency=tenant.agency, role=Role.STAFF).exists()
