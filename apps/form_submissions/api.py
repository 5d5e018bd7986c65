"""REST API of the forms report, through the same services as the page (``reports.py``):

- ``/api/v1/form-summary/?client_account=…[&company=…][&group_by=…]``: CallRail's form summary (GET), for
  everyone who sees the account; a person limited to some companies gets one company of theirs, never
  whole-account totals;
- ``/api/v1/ignored-form-fields/``: the fields the portal told CallRail to ignore (GET) and new ones (POST with
  ``client_account``, ``field_names`` and optionally ``company``), for those who change CallRail records.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import PermissionDenied, Throttled, ValidationError
from rest_framework.response import Response

from apps.callrail import errors
from apps.companies.models import Company
from apps.portal.api import PolicyPermission, TenantModelSerializer
from apps.push.services import PushRefused
from apps.tenancy.models import ClientAccount
from apps.tenancy.policy import Can, allows, refusal

from .models import IgnoredFormField
from .reports import GROUPS, form_summary, ignored_fields_add, ignored_state, summary_companies


def _account(request: Any, value: Any) -> ClientAccount:
    """The client account named by ``value``, among those the person sees (anything else: a 400)."""
    try:
        pk = int(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"client_account": ["A valid integer is required."]}) from exc
    account = ClientAccount.objects.visible_to(request.user).filter(pk=pk).select_related("agency").first()
    if account is None:
        raise ValidationError({"client_account": ["No such client account."]})
    return account


class FormSummaryRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    total_forms = serializers.IntegerField()
    first_forms = serializers.IntegerField()
    leads = serializers.IntegerField()


class FormSummarySerializer(serializers.Serializer):
    client_account = serializers.IntegerField()
    company = serializers.IntegerField(allow_null=True, help_text="null: every company of the account")
    start = serializers.CharField()
    end = serializers.CharField()
    totals = serializers.DictField(child=serializers.IntegerField())
    grouped_by = serializers.CharField(allow_blank=True)
    rows = FormSummaryRowSerializer(many=True)


class FormSummaryViewSet(viewsets.GenericViewSet):
    permission_classes: ClassVar = [PolicyPermission]
    queryset = IgnoredFormField.objects.none()  # for the schema only: the summary is CallRail's
    pagination_class = None
    serializer_class = FormSummarySerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("client_account", int, required=True),
            OpenApiParameter("company", int, description="One company (required answer for company-limited people)"),
            OpenApiParameter("group_by", str, enum=list(GROUPS)),
        ],
        responses=FormSummarySerializer,
    )
    def list(self, request, *args, **kwargs) -> Response:
        account = _account(request, request.query_params.get("client_account"))
        group_by = request.query_params.get("group_by") or "source"
        if group_by not in GROUPS:
            raise ValidationError({"group_by": [f"One of {', '.join(GROUPS)}."]})
        wanted = request.query_params.get("company") or None
        visible, limited, company = summary_companies(user=request.user, agency=None, account=account,
                                                      company_pk=wanted)  # fmt: skip
        if (wanted and (company is None or str(company.pk) != wanted)) or (limited and not visible):
            raise ValidationError({"company": ["No such company in this account."]})
        try:
            summary = form_summary(account=account, company=company, group_by=group_by)
        except (errors.BudgetExhausted, errors.RateLimited) as exc:
            detail = "The account has used its CallRail allowance for now."
            raise Throttled(wait=exc.retry_after, detail=detail) from exc
        except errors.CallRailError as exc:
            raise ValidationError({"non_field_errors": [f"CallRail did not answer: {exc.message}"]}) from exc
        data = {"client_account": account.pk, "company": company.pk if company else None, **summary.__dict__}
        return Response(FormSummarySerializer(data).data)


class IgnoredFormFieldSerializer(TenantModelSerializer):
    state = serializers.SerializerMethodField(help_text="pending, set, failed or discarded")

    class Meta:
        model = IgnoredFormField
        fields = ["id", "client_account", "company", "field_name", "created_at", "state"]
        read_only_fields = fields

    def get_state(self, obj: IgnoredFormField) -> str:
        return ignored_state(obj)


class IgnoredFieldsInput(serializers.Serializer):
    client_account = serializers.IntegerField()
    company = serializers.IntegerField(required=False, allow_null=True, help_text="Empty: every company")
    field_names = serializers.ListField(child=serializers.CharField(max_length=255), min_length=1, max_length=50)


@extend_schema(request=IgnoredFieldsInput, responses=IgnoredFormFieldSerializer)
class IgnoredFormFieldViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    permission_classes: ClassVar = [PolicyPermission]
    write_permission: ClassVar[Can] = Can.EDIT_RECORDS
    queryset = IgnoredFormField.objects.order_by("field_name", "pk")
    serializer_class = IgnoredFormFieldSerializer

    def get_queryset(self):
        # what CallRail was told is the agency's set-up: only in agencies where the person changes records
        user = self.request.user
        agencies = ClientAccount.objects.visible_to(user).values_list("agency_id", flat=True).distinct()
        editable = [pk for pk in agencies if allows(user, Can.EDIT_RECORDS, pk)]
        rows = self.queryset.visible_to(user).filter(client_account__agency_id__in=editable)
        return rows.select_related("entry")

    def create(self, request, *args, **kwargs) -> Response:
        data = IgnoredFieldsInput(data=request.data)
        data.is_valid(raise_exception=True)
        account = _account(request, data.validated_data["client_account"])
        if not allows(request.user, Can.EDIT_RECORDS, account.agency):
            raise PermissionDenied(refusal(Can.EDIT_RECORDS))
        company = None
        if data.validated_data.get("company") is not None:
            company = Company.objects.for_account(account).filter(pk=data.validated_data["company"]).first()
            if company is None:
                raise ValidationError({"company": ["No such company in this account."]})
        try:
            rows = ignored_fields_add(account=account, names=data.validated_data["field_names"], company=company,
                                      actor=request.user)  # fmt: skip
        except PushRefused as exc:
            raise ValidationError({exc.field or "non_field_errors": [exc.message]}) from exc
        return Response(IgnoredFormFieldSerializer(rows, many=True).data, status=201)


def register(router: Any) -> None:
    router.register("form-summary", FormSummaryViewSet, basename="form-summary")
    router.register("ignored-form-fields", IgnoredFormFieldViewSet, basename="ignored-form-field")
