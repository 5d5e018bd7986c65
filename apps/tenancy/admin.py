"""Django admin for operators (superusers). Tenant querysets are explicitly unscoped here."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import Agency, ClientAccount, Membership, User


class TenantAdmin(admin.ModelAdmin):
    """Base for admin pages of tenant data: operators see every tenant, by name."""

    def get_queryset(self, request):
        return self.model._default_manager.unscoped(reason="admin")

    def has_module_permission(self, request) -> bool:
        return request.user.is_superuser


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    filter_horizontal = ["client_accounts"]


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
    list_display = ["name", "agency", "callrail_account_id", "auth_mode", "sync_enabled", "connection_error"]
    list_filter = ["agency", "auth_mode", "sync_enabled"]
    search_fields = ["name", "callrail_account_id"]
    exclude = ["api_key"]  # never shown in full; staff replace it through the portal's account form
    readonly_fields = ["connection_error", "connection_checked_at"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "agency", "role", "is_active"]
    list_filter = ["agency", "role", "is_active"]
    search_fields = ["user__email", "agency__name"]
    filter_horizontal = ["client_accounts"]
    autocomplete_fields = ["user"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "client_accounts":
            kwargs["queryset"] = ClientAccount.objects.unscoped(reason="admin").select_related("agency")
        return super().formfield_for_manytomany(db_field, request, **kwargs)
