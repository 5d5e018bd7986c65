"""REST API of credentials (owners and admins of the credential's agency): keys, the accounts a key reaches,
importing them, gateway connections. The same services as the web pages; the key is write-only."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from apps.callrail.budget import budget_status_for_scope
from apps.callrail.errors import CallRailError
from apps.portal.api import AgencyField, PolicyPermission
from apps.tenancy.models import Agency, AuthMode
from apps.tenancy.policy import Can, allows, refusal
from apps.tenancy.selectors import agencies_for_user

from . import services
from .models import Credential, GatewayConnection
from .selectors import credentials_for_user


class Conflict(APIException):
    status_code = 409
    default_detail = "The credential is not working."
    default_code = "credential_refused"


class UpstreamRefused(APIException):
    status_code = 502
    default_detail = "CallRail could not be reached."
    default_code = "upstream"


def _errors(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})


class ConnectionSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(read_only=True)

    class Meta:
        model = GatewayConnection
        fields = ["id", "connection_id", "label", "status", "status_label", "status_reason", "authorization_url",
                  "error", "checked_at", "activated_at", "removed_at", "created_at"]  # fmt: skip
        read_only_fields = fields


class CredentialSerializer(serializers.ModelSerializer):
    agency = AgencyField(queryset=Agency.objects.none())
    api_key = serializers.CharField(write_only=True, style={"input_type": "password"},
                                    help_text="Write-only; checked with one request before it is kept.")  # fmt: skip
    masked_api_key = serializers.CharField(read_only=True)
    base_url = serializers.CharField(required=False, allow_blank=True,
                                     help_text="Fixed with the key: change both through /key/.")  # fmt: skip
    effective_base_url = serializers.CharField(read_only=True)
    account_count = serializers.SerializerMethodField()
    key_budget = serializers.SerializerMethodField(help_text="The key-level budget (null when it is off).")

    class Meta:
        model = Credential
        fields = ["id", "agency", "name", "auth_mode", "api_key", "masked_api_key", "base_url", "effective_base_url",
                  "key_limit_enabled", "budget_overrides", "error", "error_at", "checked_at", "key_changed_at",
                  "account_count", "key_budget", "created_at", "updated_at"]  # fmt: skip
        read_only_fields = ["error", "error_at", "checked_at", "key_changed_at", "created_at", "updated_at"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        fields["agency"].queryset = agencies_for_user(user=request.user) if request else Agency.objects.none()
        if self.instance is not None:
            for name in ("agency", "auth_mode", "api_key", "base_url"):
                fields[name].read_only = True
        return fields

    def validate(self, attrs):
        if self.instance is not None:
            stale = [name for name in ("api_key", "base_url", "auth_mode") if name in getattr(self, "initial_data", {})]
            if stale:
                raise ValidationError({name: "Change the key and its destination together: POST …/key/ with "
                                             "api_key (and base_url)." for name in stale})  # fmt: skip
        return attrs

    def get_account_count(self, credential: Credential) -> int:
        return credential.client_accounts.count()

    def get_key_budget(self, credential: Credential) -> dict | None:
        scope = credential.budget_scope
        return budget_status_for_scope(scope).as_dict() if scope else None


class ReachableSerializer(serializers.Serializer):
    callrail_account_id = serializers.CharField()
    name = serializers.CharField()
    connection = serializers.IntegerField(source="connection.pk", allow_null=True, default=None)
    connected_here = serializers.IntegerField(source="existing.pk", allow_null=True, default=None,
                                              help_text="The account of this agency that connects it already.")
    connected_elsewhere = serializers.ListField(source="elsewhere", child=serializers.CharField(),
                                                help_text="Your other agencies where it is connected.")


class ImportItemSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The CallRail account id (ACC…).")
    name = serializers.CharField(required=False, allow_blank=True)
    time_zone = serializers.CharField(required=False, allow_blank=True, help_text="Blank: read from CallRail.")


class ImportSerializer(serializers.Serializer):
    accounts = ImportItemSerializer(many=True)
    connection = serializers.IntegerField(required=False, allow_null=True, help_text="Gateway: the connection id.")
    start_sync = serializers.BooleanField(default=True)


class KeySerializer(serializers.Serializer):
    api_key = serializers.CharField(write_only=True)
    base_url = serializers.CharField(required=False, allow_blank=True)


class ConnectionCreateSerializer(serializers.Serializer):
    label = serializers.CharField(required=False, allow_blank=True, max_length=200)


class CredentialViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    mixins.DestroyModelMixin, viewsets.GenericViewSet,
):  # fmt: skip
    """Credentials of the agencies the user manages; another agency's credential is a 404."""

    serializer_class = CredentialSerializer
    permission_classes = [PolicyPermission]  # the policy table: the API, and MANAGE_ACCOUNTS for every write
    write_permission = Can.MANAGE_ACCOUNTS
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filterset_fields = ["agency__slug", "auth_mode"]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        return credentials_for_user(user=self.request.user).select_related("agency").order_by("name")

    def perform_create(self, serializer) -> None:
        data = serializer.validated_data
        if not allows(self.request.user, Can.MANAGE_ACCOUNTS, data["agency"]):
            raise PermissionDenied(refusal(Can.MANAGE_ACCOUNTS))
        try:
            serializer.instance = services.credential_create(
                agency=data["agency"], actor=self.request.user, name=data["name"],
                auth_mode=data.get("auth_mode", AuthMode.DIRECT), api_key=data["api_key"],
                base_url=data.get("base_url", ""), key_limit_enabled=data.get("key_limit_enabled", True),
                budget_overrides=data.get("budget_overrides") or {},
            )  # fmt: skip
        except DjangoValidationError as exc:
            raise _errors(exc) from None

    def perform_update(self, serializer) -> None:
        data = serializer.validated_data
        try:
            serializer.instance = services.credential_update(
                credential=serializer.instance, actor=self.request.user, name=data.get("name"),
                key_limit_enabled=data.get("key_limit_enabled"), budget_overrides=data.get("budget_overrides"),
            )  # fmt: skip
        except DjangoValidationError as exc:
            raise _errors(exc) from None

    def perform_destroy(self, instance: Credential) -> None:
        try:
            services.credential_delete(credential=instance, actor=self.request.user)
        except DjangoValidationError as exc:
            raise _errors(exc) from None

    @extend_schema(request=KeySerializer, responses=CredentialSerializer)
    @action(detail=True, methods=["post"])
    def key(self, request, pk=None) -> Response:
        """Replace the key (and optionally its base URL); the new key must reach every account it serves."""
        credential = self.get_object()
        body = KeySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            credential = services.credential_replace_key(credential=credential, actor=request.user,
                                                         api_key=body.validated_data["api_key"],
                                                         base_url=body.validated_data.get("base_url"))  # fmt: skip
        except DjangoValidationError as exc:
            raise _errors(exc) from None
        return Response(CredentialSerializer(credential, context=self.get_serializer_context()).data)

    def _connection(self, credential: Credential, pk) -> GatewayConnection | None:
        if pk in (None, ""):
            return None
        connection = credential.connections.filter(pk=pk if str(pk).isdigit() else 0).first()
        if connection is None:
            raise NotFound("No such connection of this credential.")
        return connection

    @extend_schema(responses=ReachableSerializer(many=True))
    @action(detail=True, methods=["get"])
    def accounts(self, request, pk=None) -> Response:
        """Every account the key (or ``?connection=``) reaches, marked where it is connected already."""
        credential = self.get_object()
        if credential.error:
            raise Conflict(f"{credential.name} is not working: {credential.error}")
        try:
            connection = self._connection(credential, request.GET.get("connection"))
            reachable = services.credential_reachable_accounts(credential=credential, user=request.user,
                                                               connection=connection)  # fmt: skip
        except CallRailError as exc:
            raise UpstreamRefused(exc.public_message) from None
        return Response(ReachableSerializer(reachable, many=True).data)

    @extend_schema(request=ImportSerializer, responses={201: None})
    @action(detail=True, methods=["post"], url_path="import")
    def import_accounts(self, request, pk=None) -> Response:
        """Import the given accounts in one step: all of them or none."""
        from apps.tenancy.api import ClientAccountSerializer

        credential = self.get_object()
        body = ImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        connection = self._connection(credential, body.validated_data.get("connection"))
        choices = [services.ImportChoice(item["id"], item.get("name", ""), item.get("time_zone", ""), connection)
                   for item in body.validated_data["accounts"]]  # fmt: skip
        try:
            result = services.accounts_import(credential=credential, choices=choices, actor=request.user,
                                              start_sync=body.validated_data["start_sync"])  # fmt: skip
        except DjangoValidationError as exc:
            raise _errors(exc) from None
        data = ClientAccountSerializer(result.accounts, many=True, context=self.get_serializer_context()).data
        return Response({"accounts": data, "time_zones_read": result.time_zones_read}, status=status.HTTP_201_CREATED)

    @extend_schema(request=ConnectionCreateSerializer, responses=ConnectionSerializer(many=True))
    @action(detail=True, methods=["get", "post"])
    def connections(self, request, pk=None) -> Response:
        """GET: the gateway credential's connections. POST: create one; its ``authorization_url`` goes to the
        account's owner, and the portal watches it until it is active."""
        credential = self.get_object()
        if request.method == "GET":
            return Response(ConnectionSerializer(credential.connections.all(), many=True).data)
        body = ConnectionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            connection = services.connection_create(credential=credential, actor=request.user,
                                                    label=body.validated_data.get("label", ""))  # fmt: skip
        except DjangoValidationError as exc:
            raise _errors(exc) from None
        return Response(ConnectionSerializer(connection).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ConnectionSerializer)
    @action(detail=True, methods=["get", "delete"], url_path=r"connections/(?P<connection_pk>\d+)")
    def connection(self, request, pk=None, connection_pk=None) -> Response:
        """GET: the connection, its status read from the gateway now. DELETE: remove it at the gateway and
        pause the accounts that use it."""
        credential = self.get_object()
        connection = self._connection(credential, connection_pk)
        try:
            if request.method == "DELETE":
                services.connection_remove(connection=connection, actor=request.user)
                connection.refresh_from_db()
            elif connection.status != "REMOVED" and not credential.error:  # a refused key: what is known
                connection = services.connection_refresh(connection=connection)
        except DjangoValidationError as exc:
            raise _errors(exc) from None
        return Response(ConnectionSerializer(connection).data)
