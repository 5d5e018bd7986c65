"""REST API for client accounts. Reads are scoped; writes go through the same service as the UI."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError

from apps.callrail.budget import budget_status_for_account
from apps.portal.api import TenantModelSerializer, TenantModelViewSet

from .models import Agency, ClientAccount
from .policy import Can, allows, refusal
from .selectors import agencies_for_user
from .services import client_account_save


class ClientAccountSerializer(TenantModelSerializer):
    agency = serializers.SlugRelatedField(slug_field="slug", queryset=Agency.objects.none())
    api_key = serializers.CharField(write_only=True, required=False, allow_blank=True, style={"input_type": "password"})
    masked_api_key = serializers.CharField(read_only=True)
    budget = serializers.SerializerMethodField(help_text="CallRail requests spent and held back, per limit class.")

    class Meta:
        model = ClientAccount
        fields = [
            "id",
            "agency",
            "name",
            "callrail_account_id",
            "auth_mode",
            "api_key",
            "masked_api_key",
            "connection_id",
            "base_url",
            "time_zone",
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
        # The agency choice is limited to the user's own agencies (choices are scoped too).
        fields["agency"].queryset = agencies_for_user(user=request.user) if request else Agency.objects.none()
        if self.instance is not None:
            fields["agency"].read_only = True
        return fields


class ClientAccountViewSet(TenantModelViewSet):
    queryset = ClientAccount.objects.select_related("agency").order_by("name")
    serializer_class = ClientAccountSerializer
    write_permission = Can.MANAGE_ACCOUNTS
    filterset_fields = ["agency__slug", "auth_mode", "sync_enabled"]
    search_fields = ["name", "callrail_account_id"]
    ordering_fields = ["name", "created_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def perform_create(self, serializer) -> None:
        agency = serializer.validated_data["agency"]
        if not allows(self.request.user, Can.MANAGE_ACCOUNTS, agency):
            raise PermissionDenied(refusal(Can.MANAGE_ACCOUNTS))
        serializer.instance = self._save(serializer, agency=agency, instance=None)

    def perform_update(self, serializer) -> None:
        serializer.instance = self._save(serializer, agency=serializer.instance.agency, instance=serializer.instance)

    def _save(self, serializer, *, agency, instance):
        data = (
            {**serializer.to_representation(instance), **serializer.validated_data}
            if instance
            else {**serializer.validated_data}
        )
        try:
            account, _ = client_account_save(
                agency=agency,
                instance=instance,
                callrail_account_id=data.get("callrail_account_id", ""),
                name=data.get("name", ""),
                auth_mode=data.get("auth_mode", "direct"),
                api_key=serializer.validated_data.get("api_key"),
                base_url=data.get("base_url") or "",
                connection_id=data.get("connection_id") or "",
                time_zone=data.get("time_zone"),
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from None
        return account
