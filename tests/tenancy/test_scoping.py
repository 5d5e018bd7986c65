"""The one scoping mechanism: who sees which client accounts, and fail-closed evaluation."""

import pytest
from django.db import models
from django.test.utils import isolate_apps

from apps.tenancy.checks import untenanted_model_errors
from apps.tenancy.models import ClientAccount, Role, TenantOwnedModel
from apps.tenancy.scoping import UnscopedTenantQuery, access_scope
from tests.factories import ClientAccountFactory, MembershipFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def visible(user, agency=None) -> set[str]:
    return set(ClientAccount.objects.visible_to(user, agency).values_list("name", flat=True))


@pytest.mark.parametrize("role", ["owner", "admin", "staff"])
def test_agency_wide_roles_see_every_account_of_their_agency_only(tenant, other_tenant, role):
    user = getattr(tenant, role)
    assert visible(user) == {tenant.account.name, tenant.other_account.name}
    assert not visible(user) & {other_tenant.account.name, other_tenant.other_account.name}


def test_restricted_staff_sees_only_assigned_accounts(tenant, other_tenant):
    assert visible(tenant.restricted_staff) == {tenant.account.name}


def test_client_sees_only_its_account(tenant, other_tenant):
    assert visible(tenant.client_user) == {tenant.account.name}


def test_client_without_accounts_sees_nothing(tenant):
    lonely = MembershipFactory(agency=tenant.agency, role=Role.CLIENT).user
    assert visible(lonely) == set()


def test_membership_pointing_at_another_agencys_account_grants_nothing(tenant, other_tenant):
    """A restriction row can never widen access across agencies (e.g. set by a buggy admin form)."""
    sneaky = MembershipFactory(agency=tenant.agency, role=Role.CLIENT, client_accounts=[other_tenant.account]).user
    assert visible(sneaky) == set()


def test_inactive_membership_and_inactive_user_see_nothing(tenant):
    membership = tenant.staff.memberships.get()
    membership.is_active = False
    membership.save()
    assert visible(tenant.staff) == set()
    tenant.owner.is_active = False
    tenant.owner.save()
    assert visible(tenant.owner) == set()


def test_user_in_two_agencies_is_scoped_to_the_chosen_one(tenant, other_tenant):
    both = tenant.staff
    MembershipFactory(user=both, agency=other_tenant.agency, role=Role.STAFF)
    assert visible(both) == {
        tenant.account.name, tenant.other_account.name, other_tenant.account.name, other_tenant.other_account.name
    }
    assert visible(both, tenant.agency) == {tenant.account.name, tenant.other_account.name}
    assert visible(both, other_tenant.agency) == {other_tenant.account.name, other_tenant.other_account.name}


def test_agency_filter_cannot_reach_an_agency_the_user_is_not_in(tenant, other_tenant):
    assert visible(tenant.owner, other_tenant.agency) == set()


def test_superuser_sees_all_and_anonymous_sees_nothing(tenant, other_tenant, superuser):
    from django.contrib.auth.models import AnonymousUser

    assert len(visible(superuser)) == 4
    assert visible(AnonymousUser()) == set()
    assert access_scope(None).is_empty


@pytest.mark.parametrize(
    "evaluate",
    [
        list,
        lambda qs: qs.count(),
        lambda qs: qs.exists(),
        lambda qs: qs.first(),
        lambda qs: qs.get(pk=1),
        lambda qs: qs.update(name="x"),
        lambda qs: qs.delete(),
        lambda qs: list(qs.iterator()),
        lambda qs: qs.aggregate(n=models.Count("pk")),
        lambda qs: list(qs.filter(name="x").values_list("pk")),
    ],
)
def test_unscoped_queries_fail_closed(tenant, evaluate):
    with pytest.raises(UnscopedTenantQuery):
        evaluate(ClientAccount.objects.all())


def test_scope_survives_chaining_and_related_managers_are_scoped(tenant):
    chained = ClientAccount.objects.visible_to(tenant.owner).filter(name__startswith="Acme").order_by("-name")
    assert [a.name for a in chained] == [tenant.other_account.name, tenant.account.name]
    assert tenant.agency.client_accounts.count() == 2


def test_for_account_and_unscoped_entry_points(tenant, other_tenant):
    assert list(ClientAccount.objects.for_account(tenant.account)) == [tenant.account]
    assert ClientAccount.objects.unscoped(reason="admin").count() == 4
    with pytest.raises(ValueError, match="not an allowed reason"):
        ClientAccount.objects.unscoped(reason="because")


def test_model_validation_uniqueness_checks_run_without_a_scope(tenant):
    duplicate = ClientAccountFactory.build(agency=tenant.agency, callrail_account_id=tenant.account.callrail_account_id)
    with pytest.raises(Exception, match="already has a client account"):
        duplicate.full_clean()


@isolate_apps("apps.tenancy")
def test_system_check_flags_models_pointing_at_accounts_without_the_base():
    class Leaky(models.Model):
        client_account = models.ForeignKey(ClientAccount, on_delete=models.CASCADE)

        class Meta:
            app_label = "tenancy"

        def __str__(self) -> str:
            return "leaky"

    class Scoped(TenantOwnedModel):
        class Meta:
            app_label = "tenancy"

        def __str__(self) -> str:
            return "scoped"

    errors = untenanted_model_errors([Leaky, Scoped])
    assert [e.id for e in errors] == ["tenancy.E001"]
    assert errors[0].obj is Leaky


def test_access_scope_is_cached_per_user_object(tenant, django_assert_num_queries):
    user = UserFactory()
    MembershipFactory(user=user, agency=tenant.agency, role=Role.OWNER)
    access_scope(user)
    with django_assert_num_queries(0):
        access_scope(user)
