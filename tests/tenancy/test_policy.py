"""The policy table's principals and member ranks (the matrix checks every route against the table)."""

import pytest

from apps.tenancy.models import Membership, Role
from apps.tenancy.policy import Can, Principal, allows, allows_somewhere, grantable_roles, may_manage_member, principal
from apps.tenancy.services import view_as_user

pytestmark = [pytest.mark.django_db]


def test_a_role_holds_only_in_its_own_agency(tenant, other_tenant, superuser):
    assert principal(tenant.owner, tenant.agency) == Principal.OWNER
    assert principal(tenant.owner, other_tenant.agency) == Principal.SIGNED_IN
    assert not allows(tenant.owner, Can.MANAGE_MEMBERS, other_tenant.agency)
    assert principal(superuser, other_tenant.agency) == Principal.OPERATOR
    assert principal(None, tenant.agency) is None


def test_a_deactivated_member_or_agency_holds_nothing_of_the_role(tenant):
    Membership.objects.filter(user=tenant.admin).update(is_active=False)
    assert principal(type(tenant.admin).objects.get(pk=tenant.admin.pk), tenant.agency) == Principal.SIGNED_IN
    tenant.agency.is_active = False
    tenant.agency.save()
    assert principal(type(tenant.owner).objects.get(pk=tenant.owner.pk), tenant.agency) == Principal.SIGNED_IN


def test_conditional_grants_follow_the_agency_setting(tenant):
    assert not allows(tenant.client_user, Can.ANNOTATE_CALLS, tenant.agency)
    tenant.agency.client_can_annotate_calls = True
    tenant.agency.save()
    assert allows(tenant.client_user, Can.ANNOTATE_CALLS, tenant.agency)
    assert not allows(tenant.client_user, Can.EDIT_RECORDS, tenant.agency)


def test_the_view_as_stand_in_is_viewing_as_in_one_agency_only(tenant, other_tenant):
    tenant.client_user.is_superuser = True
    tenant.client_user.save()
    Membership.objects.create(user=tenant.client_user, agency=other_tenant.agency, role=Role.OWNER)
    stand_in = view_as_user(membership=tenant.client_user.memberships.get(agency=tenant.agency), actor=tenant.owner)
    assert not stand_in.is_superuser
    assert principal(stand_in, tenant.agency) == Principal.VIEWING_AS
    assert principal(stand_in, other_tenant.agency) is None
    assert not allows_somewhere(stand_in, Can.API)
    assert not allows(stand_in, Can.OWN_SECURITY)


@pytest.mark.parametrize(
    ("role", "grantable"),
    [
        ("owner", ["owner", "admin", "staff", "client"]),
        ("admin", ["admin", "staff", "client"]),
        ("staff", []),
        ("client_user", []),
    ],
)
def test_members_are_managed_up_to_ones_own_role(tenant, role, grantable):
    user = getattr(tenant, role)
    assert grantable_roles(user, tenant.agency) == grantable
    assert may_manage_member(user, tenant.agency, Role.OWNER) == (role == "owner")
