"""Finding 4 (medium): admins demoted, deactivated and reactivated owners.

No member may change or (de)activate a member of a higher role, nor grant a role above their own.
"""

import pytest
from django.urls import reverse

from apps.tenancy.models import Membership, Role
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.django_db]


def action(pk: int, name: str) -> str:
    return reverse("tenancy:membership_action", kwargs={"pk": pk, "action": name})


def test_an_admin_cannot_demote_deactivate_or_reactivate_an_owner(tenant, login):
    second_owner = MembershipFactory(agency=tenant.agency, role=Role.OWNER)  # so "keep an owner" is not what stops it
    owner = tenant.owner.memberships.get()
    browser = login(tenant.admin)
    browser.post(action(owner.pk, "update"), {"role": Role.STAFF})
    owner.refresh_from_db()
    assert owner.role == Role.OWNER
    browser.post(action(owner.pk, "deactivate"))
    owner.refresh_from_db()
    assert owner.is_active
    Membership.objects.filter(pk=second_owner.pk).update(is_active=False)
    browser.post(action(second_owner.pk, "activate"))
    second_owner.refresh_from_db()
    assert not second_owner.is_active


def test_an_admin_cannot_make_anyone_an_owner(tenant, login):
    staff = tenant.staff.memberships.get()
    login(tenant.admin).post(action(staff.pk, "update"), {"role": Role.OWNER})
    staff.refresh_from_db()
    assert staff.role == Role.STAFF


def test_the_member_page_refuses_an_admin_editing_an_owner(tenant, login):
    owner = tenant.owner.memberships.get()
    browser = login(tenant.admin)
    assert browser.get(reverse("tenancy:member_edit", kwargs={"pk": owner.pk})).status_code == 403
    response = browser.post(reverse("tenancy:member_edit", kwargs={"pk": owner.pk}), {"role": Role.STAFF})
    assert response.status_code == 403
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_an_admin_still_manages_members_up_to_admin(tenant, login):
    staff = tenant.staff.memberships.get()
    browser = login(tenant.admin)
    response = browser.post(reverse("tenancy:member_edit", kwargs={"pk": staff.pk}), {"role": Role.ADMIN})
    assert response.status_code == 302
    staff.refresh_from_db()
    assert staff.role == Role.ADMIN
    browser.post(action(staff.pk, "deactivate"))
    staff.refresh_from_db()
    assert not staff.is_active


def test_an_admin_cannot_revoke_or_resend_an_owners_invitation(tenant, login, django_capture_on_commit_callbacks):
    from apps.tenancy.models import Invitation
    from apps.tenancy.services import invitation_create

    with django_capture_on_commit_callbacks(execute=False):
        invitation = invitation_create(agency=tenant.agency, email="co-owner@acme.test", role=Role.OWNER,
                                       client_accounts=[], invited_by=tenant.owner)  # fmt: skip
    browser = login(tenant.admin)
    for name in ("revoke", "resend"):
        url = reverse("tenancy:invitation_action", kwargs={"pk": invitation.pk, "action": name})
        assert browser.post(url).status_code == 403
    assert Invitation.objects.get(pk=invitation.pk).status == "pending"
