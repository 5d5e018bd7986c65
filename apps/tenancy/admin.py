"""Django admin for operators (superusers). Tenant querysets are explicitly unscoped here."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import Agency, ClientAccount, Membership, User
from .scoping import TenantManager


class TenantRelatedFilter(admin.RelatedFieldListFilter):
    """A sidebar filter on a foreign key to tenant data: its choices are read explicitly unscoped."""

    def field_choices(self, field, request, model_admin):
        rows = field.related_model._default_manager.unscoped(reason="admin")
        return [(row.pk, str(row)) for row in rows]


def _admin_choices(db_field, kwargs: dict) -> dict:
    """Choices of a relation to tenant data are read explicitly unscoped (operators see every tenant)."""
    manager = db_field.related_model._default_manager
    if isinstance(manager, TenantManager):
        kwargs["queryset"] = manager.unscoped(reason="admin")
    return kwargs


class TenantChoicesMixin:
    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **_admin_choices(db_field, kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(db_field, request, **_admin_choices(db_field, kwargs))


class TenantAdmin(TenantChoicesMixin, admin.ModelAdmin):
    """Base for admin pages of tenant data: operators see every tenant, by name."""

    def get_queryset(self, request):
        return self.model._default_manager.unscoped(reason="admin")

    def get_list_filter(self, request):
        def scoped(entry):
            if isinstance(entry, str) and "__" not in entry:
                related = getattr(self.model._meta.get_field(entry), "related_model", None)
                if related is not None and isinstance(related._default_manager, TenantManager):
                    return (entry, TenantRelatedFilter)
            return entry

        return [scoped(entry) for entry in super().get_list_filter(request)]

    def has_module_permission(self, request) -> bool:
        return request.user.is_superuser


class MembershipInline(admin.TabularInline):
    """Read-only here: memberships change on their own admin page, which audits every change."""

    model = Membership
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    fields = readonly_fields = ["user", "role", "is_active"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_superuser", "last_login"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password", "full_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(ClientAccount)
class ClientAccountAdmin(TenantAdmin):
    list_display = ["name", "agency", "callrail_account_id", "credential", "sync_enabled", "connection_error"]
    list_filter = ["agency", "credential__auth_mode", "sync_enabled"]
    search_fields = ["name", "callrail_account_id"]
    # Where its requests go is changed on the portal's account page, which checks the new credential first;
    # sync on/off through the audited actions.
    readonly_fields = ["credential", "gateway_connection", "connection_error", "connection_checked_at", "sync_enabled"]
    actions = ["resync_now", "pause_sync", "resume_sync"]

    @admin.action(description="Resync now (incremental, background budget)")
    def resync_now(self, request, queryset):
        from apps.sync.services import sync_request

        started = sum(1 for account in queryset if sync_request(account=account)[1])
        self.message_user(request, f"Sync queued for {started} account(s); others already had one queued or running.")

    def _set_sync(self, request, queryset, enabled: bool) -> None:
        from apps.portal.services import client_account_sync_set

        for account in queryset:
            client_account_sync_set(account=account, enabled=enabled, actor=request.user)
        self.message_user(request, f"Sync {'resumed' if enabled else 'paused'} for {queryset.count()} account(s).")

    @admin.action(description="Pause sync")
    def pause_sync(self, request, queryset):
        self._set_sync(request, queryset, False)

    @admin.action(description="Resume sync")
    def resume_sync(self, request, queryset):
        self._set_sync(request, queryset, True)


@admin.register(Membership)
class MembershipAdmin(TenantChoicesMixin, admin.ModelAdmin):
    """Operators change memberships here; each change lands in the agency's audit log like one made in the
    portal (role, accounts, companies, active), by the operator."""

    list_display = ["user", "agency", "role", "is_active"]
    list_filter = ["agency", "role", "is_active"]
    search_fields = ["user__email", "agency__name"]
    filter_horizontal = ["client_accounts"]
    autocomplete_fields = ["user"]

    @staticmethod
    def _state(membership: Membership) -> dict:
        from .services import membership_state

        return {**membership_state(membership), "active": membership.is_active}

    def save_model(self, request, obj, form, change) -> None:
        previous = Membership.objects.filter(pk=obj.pk).first() if change else None
        obj._audit_before = self._state(previous) if previous is not None else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        from apps.audit.services import audit_record

        super().save_related(request, form, formsets, change)
        membership = form.instance
        before, after = getattr(membership, "_audit_before", {}), self._state(membership)
        if before != after:
            audit_record(
                agency=membership.agency, actor=request.user, obj=membership, before=before, after=after,
                action="membership.update" if change else "membership.create",
            )  # fmt: skip


class MirrorAdmin(TenantAdmin):
    """Base for mirrored CallRail records: searchable by CallRail id, the sync's bookkeeping read-only."""

    search_fields = ["callrail_id"]
    readonly_fields = ["payload", "first_seen_at", "last_seen_at", "changed_at", "deleted_upstream_at"]
