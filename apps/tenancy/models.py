"""Tenancy: agencies, their client accounts (one CallRail account each), users and memberships.

Agency ──< Membership >── User;  Agency ──< ClientAccount ──< every mirrored row (TenantOwnedModel).
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.crypto import salted_hmac

from .scoping import TenantManager, uniqueness_validation

TIME_ZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name or name == "UTC"]

callrail_account_id_validator = RegexValidator(
    r"^ACC[0-9a-f]{32}$",
    "A CallRail account id is ACC followed by 32 lowercase hex characters, "
    "e.g. ACC8154748ae6bd4e278a7cddd38a662f4f (CallRail shows it under Settings › Account).",
)


class EmailUserManager(UserManager):
    use_in_migrations = True

    def _create_user(self, username, email, password, **extra_fields):
        email = self.normalize_email(email or username)
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(None, email, password, **extra_fields)

    def create_superuser(self, email=None, password=None, **extra_fields):
        extra_fields.update(is_staff=True, is_superuser=True)
        return self._create_user(None, email, password, **extra_fields)


class User(AbstractUser):
    """A portal login, identified by email. `is_staff` means Django-admin access (operators only)."""

    username = None
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    # Part of the session hash: changing it signs the user out of every browser ("log out everywhere").
    session_salt = models.CharField(max_length=32, blank=True, default="")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = EmailUserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name or self.email).split()[0]

    def _get_session_auth_hash(self, secret=None) -> str:
        # Django's own hash (also used for SECRET_KEY_FALLBACKS) with the per-user salt mixed in.
        return salted_hmac(
            "apps.tenancy.User.session", f"{self.password}:{self.session_salt}", secret=secret, algorithm="sha256"
        ).hexdigest()


hex_colour_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Enter a colour as #RRGGBB, e.g. #1d4ed8.")


class Agency(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    is_active = models.BooleanField(default=True)
    # Branding shown to everyone working in the agency, clients included.
    primary_colour = models.CharField(max_length=7, default="#1e3a8a", validators=[hex_colour_validator])
    logo = models.BinaryField(blank=True, default=b"", editable=True)
    logo_content_type = models.CharField(max_length=40, blank=True)
    # What client users may do beyond reading their own data.
    client_can_annotate_calls = models.BooleanField(
        default=False, help_text="Clients may add notes, tags, lead status and value to their calls."
    )
    client_can_manage_summary_emails = models.BooleanField(
        default=False, help_text="Clients may manage their own summary email subscription."
    )
    client_can_answer_leads = models.BooleanField(
        default=False, help_text="Clients may reply to texts, text back and call back leads from the portal."
    )
    require_two_factor = models.BooleanField("require two-factor sign-in for owners and admins", default=False)
    # Data lifecycle (issue 11): mirrored communication records older than this are deleted nightly.
    retention_months = models.PositiveSmallIntegerField(
        "keep communication records for (months)",
        default=25,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
        help_text="Calls, form submissions and text conversations older than this are deleted from the portal "
        "(CallRail itself keeps them 25 months).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    STAFF = "staff", "Staff"
    CLIENT = "client", "Client"


class AuthMode(models.TextChoices):
    DIRECT = "direct", "CallRail API key"
    GATEWAY = "gateway", "OAuth gateway"


class TenantValidationMixin:
    """Run Django's uniqueness checks unscoped: they answer yes/no and return no tenant rows."""

    def validate_unique(self, exclude=None):
        with uniqueness_validation():
            super().validate_unique(exclude)

    def validate_constraints(self, exclude=None):
        with uniqueness_validation():
            super().validate_constraints(exclude)


class ClientAccount(TenantValidationMixin, models.Model):
    """One client's CallRail account, managed by one agency, reached through one of its credentials (the
    key, its destination and, for the gateway, one of its connections: ``apps/credentials``)."""

    tenant_account_path = ""  # this model is the account itself

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="client_accounts")
    name = models.CharField(max_length=200)
    callrail_account_id = models.CharField(
        "CallRail account id", max_length=35, validators=[callrail_account_id_validator]
    )
    credential = models.ForeignKey(
        "credentials.Credential", on_delete=models.PROTECT, related_name="client_accounts",
        help_text="The key (and destination) the portal reaches this account with.",
    )  # fmt: skip
    gateway_connection = models.ForeignKey(
        "credentials.GatewayConnection", on_delete=models.PROTECT, null=True, blank=True,
        related_name="client_accounts",
        help_text="Gateway credentials: the connection that reaches this account (empty: the key's default one).",
    )  # fmt: skip
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="America/New_York")
    sync_enabled = models.BooleanField("sync on", default=True)
    budget_overrides = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            'Per-account CallRail limits when CallRail raised them, e.g. {"general": {"hour": 2000, "day": 20000}}.'
        ),
    )
    connection_error = models.TextField(blank=True, help_text="Why CallRail last refused this account, if it did.")
    connection_checked_at = models.DateTimeField(null=True, blank=True)
    # Data lifecycle (issue 11): a scheduled deletion (export written first), cancellable until it is due.
    deletion_due_at = models.DateTimeField(null=True, blank=True, help_text="When the account and its data go.")
    deletion_requested_at = models.DateTimeField(null=True, blank=True)
    deletion_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deletion_export_path = models.CharField(max_length=500, blank=True, help_text="The export written first.")
    sync_enabled_before_deletion = models.BooleanField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "callrail_account_id"],
                name="unique_callrail_account_per_agency",
                violation_error_message="This agency already has a client account for that CallRail account.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    # What the CallRail client reads (``client_for_account``): all of it belongs to the credential.
    @property
    def auth_mode(self) -> str:
        return self.credential.auth_mode

    @property
    def auth_mode_label(self) -> str:
        return AuthMode(self.credential.auth_mode).label

    @property
    def api_key(self) -> str:
        return self.credential.api_key

    @property
    def base_url(self) -> str:
        return self.credential.base_url

    @property
    def effective_base_url(self) -> str:
        return self.credential.effective_base_url

    @property
    def connection_id(self) -> str:
        """The gateway's ``Maton-Connection`` id (not a database id): empty for the key's default one."""
        return self.gateway_connection.connection_id if self.gateway_connection_id else ""

    @property
    def masked_api_key(self) -> str:
        return self.credential.masked_api_key

    @property
    def budget_key_scope(self):
        """The credential's key-level budget (an ``apps.callrail.budget.Scope``), or None when it is off."""
        return self.credential.budget_scope


class Membership(models.Model):
    """A user's role in an agency. Staff and clients may be limited to some client accounts."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    client_accounts = models.ManyToManyField(
        ClientAccount,
        blank=True,
        related_name="memberships",
        help_text="Staff: leave empty for every account of the agency. Clients: the accounts they may see.",
    )
    companies = models.ManyToManyField(
        "companies.Company",
        blank=True,
        related_name="+",
        help_text="Clients only: limit an account to these of its companies (none ticked: the whole account).",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["agency__name", "user__email"]
        constraints = [models.UniqueConstraint(fields=["user", "agency"], name="one_membership_per_agency")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} of {self.agency}"

    @property
    def is_manager(self) -> bool:
        return self.role in (Role.OWNER, Role.ADMIN)


class TenantOwnedModel(TenantValidationMixin, models.Model):
    """Base of every row that belongs to one client account (every mirrored CallRail record)."""

    tenant_account_path = "client_account"
    # Client users may be limited to some companies; a model names its company FK here (or None).
    tenancy_company_field: str | None = None
    # A row of no company is account-level (shown to company-limited clients) unless it speaks about every
    # company, like a whole-account summary email: then it is hidden from them.
    tenancy_companyless_covers_all: bool = False

    client_account = models.ForeignKey(
        ClientAccount, on_delete=models.PROTECT, related_name="%(app_label)s_%(class)s_set"
    )

    objects = TenantManager()

    class Meta:
        abstract = True


class Invitation(models.Model):
    """An emailed, single-use, expiring link to join an agency with a role. Only the token's hash is kept."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices)
    client_accounts = models.ManyToManyField(ClientAccount, blank=True, related_name="+")
    companies = models.ManyToManyField("companies.Company", blank=True, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.agency} as {self.get_role_display()}"

    @property
    def status(self) -> str:
        from django.utils import timezone

        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at <= timezone.now() else "pending"


class ApiToken(models.Model):
    """A personal REST API token. Only a hash is stored; the key is shown once, when created."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, help_text="The key's first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
