"""REST API for client accounts. Reads are scoped; writes go through the same services as the UI.

An account's key and its destination (authentication, base URL) belong to its credential
(``/api/v1/credentials/``): they are shown here read-only, and changing them means choosing another
credential (checked with CallRail first) or replacing the credential's key.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError

from apps.callrail.budget import budget_status_for_account
from apps.credentials.models import Credential, GatewayConnection
from apps.credentials.selectors import credentials_for_user
from apps.credentials.services import ImportChoice, accounts_import, client_account_update
from apps.portal.api import AgencyField, TenantModelSerializer, TenantModelViewSet

from .models import Agency, ClientAccount
from .policy import Can, allows, refusal
from .selectors import agencies_for_user

#: Fields of the old account-level key; they now belong to the credential.
CREDENTIAL_FIELDS = ("api_key", "base_url", "auth_mode", "connection_id")


class ClientAccountSerializer(TenantModelSerializer):
    agency = AgencyField(queryset=Agency.objects.none())
    credential = serializers.PrimaryKeyRelatedField(
        queryset=Credential.objects.none(), help_text="The credential (key and destination) that reaches the account."
    )
    gateway_connection = serializers.PrimaryKeyRelatedField(
        queryset=GatewayConnection.objects.none(), required=False, allow_null=True,
        help_text="Gateway credentials: the connection that reaches the account (null: the key's default).",
    )  # fmt: skip
    auth_mode = serializers.CharField(read_only=True, help_text="From the credential.")
    base_url = serializers.CharField(source="effective_base_url", read_only=True, help_text="From the credential.")
    connection_id = serializers.CharField(read_only=True, help_text="The gateway's Maton-Connection id, if any.")
    masked_api_key = serializers.CharField(read_only=True)
    time_zone = serializers.CharField(required=False, allow_blank=True,
                                      help_text="Blank on create: read from the account's first company.")  # fmt: skip
    budget = serializers.SerializerMethodField(
        help_text="CallRail requests spent and held back per limit class; `key` holds the credential's shared budget."
    )

    class Meta:
        model = ClientAccount
        fields = [
            "id",
            "agency",
            "name",
            "callrail_account_id",
            "credential",
            "gateway_connection",
            "auth_mode",
            "base_url",
            "connection_id",
            "masked_api_key",
            "time_zone",
            "budget_overrides",
            "sync_enabled",
            "connection_error",
            "connection_checked_at",
            "budget",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["sync_enabled", "connection_error", "connection_checked_at", "created_at", "updated_at"]

    def get_budget(self, account: ClientAccount) -> dict:
        return budget_status_for_account(account).as_dict()

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        user = request.user if request else None
        # Choices are limited to the user's own agencies and the credentials of agencies they manage.
        fields["agency"].queryset = agencies_for_user(user=user) if user else Agency.objects.none()
        credentials = credentials_for_user(user=user) if user else Credential.objects.none()
        fields["credential"].queryset = credentials
        fields["gateway_connection"].queryset = GatewayConnection.objects.filter(credential__in=credentials)
        if self.instance is not None:
            fields["agency"].read_only = True
            fields["callrail_account_id"].read_only = True
            fields["credential"].required = False
        return fields

    def validate(self, attrs):
        stale = [name for name in CREDENTIAL_FIELDS if name in getattr(self, "initial_data", {})]
        if stale:
            raise ValidationError({
                name: "The key and where it is sent belong to the account's credential: choose another `credential` "
                "(checked with CallRail first) or replace the credential's key (POST /api/v1/credentials/<id>/key/)."
                for name in stale
            })  # fmt: skip
        return attrs


def _django_errors(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


class ClientAccountViewSet(TenantModelViewSet):
    queryset = (
        ClientAccount.objects.select_related("agency", "credential", "gateway_connection")
        .defer("agency__logo")
        .order_by("name")
    )
    serializer_class = ClientAccountSerializer
    write_permission = Can.MANAGE_ACCOUNTS
    filterset_fields = ["agency__slug", "credential", "credential__auth_mode", "sync_enabled"]
    search_fields = ["name", "callrail_account_id"]
    ordering_fields = ["name", "created_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def perform_create(self, serializer) -> None:
        """Connect one account through a credential: read from CallRail once (reach and time zone)."""
        data = serializer.validated_data
        agency, credential = data["agency"], data["credential"]
        if not allows(self.request.user, Can.MANAGE_ACCOUNTS, agency):
            raise PermissionDenied(refusal(Can.MANAGE_ACCOUNTS))
        if credential.agency_id != agency.pk:
            raise ValidationError({"credential": "Choose a credential of this agency."})
        choice = ImportChoice(
            data["callrail_account_id"], data.get("name", ""), data.get("time_zone") or "",
            data.get("gateway_connection"),
        )  # fmt: skip
        try:
            result = accounts_import(credential=credential, choices=[choice], actor=self.request.user)
            serializer.instance = result.accounts[0]
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None
        if data.get("budget_overrides"):
            self._update(serializer.instance, {"budget_overrides": data["budget_overrides"]})

    def perform_update(self, serializer) -> None:
        serializer.instance = self._update(serializer.instance, serializer.validated_data)

    def _update(self, account: ClientAccount, data: dict) -> ClientAccount:
        credential = data.get("credential")
        if "gateway_connection" in data and credential is None:
            credential = account.credential
        try:
            return client_account_update(
                account=account, actor=self.request.user, name=data.get("name"), time_zone=data.get("time_zone"),
                credential=credential, gateway_connection=data.get("gateway_connection", account.gateway_connection),
                budget_overrides=data.get("budget_overrides"),
            )  # fmt: skip
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None
