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


def test_count_per_account_is_a_scoped_read(tenant, other_tenant):
    from apps.sync.models import SyncRun

    with pytest.raises(UnscopedTenantQuery):
        SyncRun.objects.all().count_per_account()
    for account in (tenant.account, tenant.account, other_tenant.account):
        SyncRun.objects.create(client_account=account, kind="incremental")
    mine = SyncRun.objects.visible_to(tenant.owner).count_per_account()
    counts = dict(ClientAccount.objects.unscoped(reason="admin").annotate(n=mine).values_list("pk", "n"))
    assert counts == {tenant.account.pk: 2, tenant.other_account.pk: 0,  # another agency's runs are not counted,
                      other_tenant.account.pk: 0, other_tenant.other_account.pk: 0}  # fmt: skip (whoever asks)


def test_figures_per_account_is_a_scoped_read(tenant, other_tenant):
    from django.db.models import Count, Q

    from apps.sync.models import SyncRun

    with pytest.raises(UnscopedTenantQuery):
        SyncRun.objects.all().figures_per_account(n=Count("pk"))
    runs = [(tenant.account, "failed"), (tenant.account, "succeeded"), (other_tenant.account, "failed")]
    for account, status in runs:
        SyncRun.objects.create(client_account=account, kind="incremental", status=status)
    mine = SyncRun.objects.visible_to(tenant.owner).figures_per_account(
        runs=Count("pk"), failed=Count("pk", filter=Q(status="failed"))
    )
    figures = dict(ClientAccount.objects.unscoped(reason="admin").annotate(f=mine).values_list("pk", "f"))
    assert figures == {tenant.account.pk: {"runs": 2, "failed": 1}, tenant.other_account.pk: None,
                       other_tenant.account.pk: None, other_tenant.other_account.pk: None}  # fmt: skip


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


def _mirror(model, account, callrail_id: str, **fields):
    from django.utils import timezone

    now = timezone.now()
    return model.objects.create(
        client_account=account, callrail_id=callrail_id, payload={}, payload_hash="x",
        first_seen_at=now, last_seen_at=now, changed_at=now, **fields,
    )


def test_client_limited_to_companies_sees_only_their_rows(tenant, other_tenant):
    from apps.calls.models import Call
    from apps.companies.models import Company
    from apps.tags.models import Tag
    from apps.users.models import CallRailUser

    mine = _mirror(Company, tenant.account, "COM1", name="Mine")
    theirs = _mirror(Company, tenant.account, "COM2", name="Not mine")
    foreign = _mirror(Company, other_tenant.account, "COM3", name="Other agency")
    _mirror(Call, tenant.account, "CAL1", company=mine)
    _mirror(Call, tenant.account, "CAL2", company=theirs)
    _mirror(Call, other_tenant.account, "CAL3", company=foreign)
    _mirror(Tag, tenant.account, "T1", name="account-level")
    _mirror(Tag, tenant.account, "T2", name="theirs", company=theirs)
    _mirror(CallRailUser, tenant.account, "U1")
    membership = tenant.client_user.memberships.get()
    membership.companies.set([mine, foreign])  # a company of another account can never widen access

    client = tenant.client_user
    assert visible(client) == {tenant.account.name}
    assert set(Company.objects.visible_to(client).values_list("name", flat=True)) == {"Mine"}
    assert set(Call.objects.visible_to(client).values_list("callrail_id", flat=True)) == {"CAL1"}
    assert set(Tag.objects.visible_to(client).values_list("name", flat=True)) == {"account-level"}
    assert not CallRailUser.objects.visible_to(client).exists()  # rows of no company stay hidden

    membership.companies.clear()
    client = type(client).objects.get(pk=client.pk)  # a fresh scope cache
    assert set(Call.objects.visible_to(client).values_list("callrail_id", flat=True)) == {"CAL1", "CAL2"}
    assert CallRailUser.objects.visible_to(client).exists()


def test_company_limits_apply_to_clients_only(tenant):
    from django.core.exceptions import ValidationError

    from apps.companies.models import Company
    from apps.tenancy.services import membership_update

    company = _mirror(Company, tenant.other_account, "COM9", name="Elsewhere")
    membership = tenant.client_user.memberships.get()
    with pytest.raises(ValidationError, match="Not in the chosen client accounts: Elsewhere"):
        membership_update(membership=membership, role=Role.CLIENT, client_accounts=[tenant.account],
                          companies=[company], actor=tenant.owner)
    staff = tenant.restricted_staff.memberships.get()
    membership_update(membership=staff, role=Role.STAFF, client_accounts=[tenant.other_account],
                      companies=[company], actor=tenant.owner)
    assert not staff.companies.exists()
