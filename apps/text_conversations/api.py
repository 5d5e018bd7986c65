"""REST API for answering leads (issue 21), through the same services as the pages:

- ``/api/v1/texts/``: the texts sent from the portal (GET) and a new one (POST: a reply in a ``conversation``, or
  a text back to a ``call`` or a ``form_submission``, from ``tracking_number``) — ``sending.text_send``;
- ``/api/v1/call-backs/``: call backs (GET) and a new one (POST) — ``apps.calls.callbacks.call_back_start``;
- ``/api/v1/missed-leads/``: the missed-lead inbox (GET, ``?client_account=``) — ``apps.leads.selectors``; and
  ``/api/v1/missed-leads/assign/`` (POST) assigns one to a member who works in its account — ``apps.leads.services``.

Refusals (an opt-out, the length, a sender that cannot text, a spent allowance…) are a 400 naming the field, with
the same reason the pages give; writes need "answer leads" in the record's agency.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Model
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from apps.calls.models import Call, CallBack
from apps.form_submissions.models import FormSubmission
from apps.leads.models import LeadAssignment
from apps.portal.api import PolicyPermission, TenantModelSerializer
from apps.push.services import PushRefused
from apps.tenancy.policy import Can, allows, refusal

from .models import OutgoingText, TextConversation
from .sending import text_send, text_state


class _ScopedInput(serializers.Serializer):
    """Related fields offer only rows the requesting user may see (another tenant's id: "does not exist")."""

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        for f in fields.values():
            queryset = getattr(f, "queryset", None)
            if request is not None and hasattr(queryset, "visible_to"):  # a TenantManager or TenantQuerySet
                f.queryset = queryset.visible_to(request.user).live()
        return fields


class _ListCreate(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    permission_classes: ClassVar = [PolicyPermission]
    write_permission: ClassVar[Can | None] = Can.ANSWER_LEADS
    input_class: ClassVar[type[serializers.Serializer]]

    def get_queryset(self):
        return self.queryset.visible_to(self.request.user).select_related("entry")

    def _source(self, data: dict) -> tuple[str, Model]:
        given = [(k, data[k]) for k in ("conversation", "call", "form_submission") if data.get(k) is not None]
        if len(given) != 1:
            raise ValidationError({"non_field_errors": ["Name exactly one of conversation, call, form_submission."]})
        key, row = given[0]
        if not allows(self.request.user, Can.ANSWER_LEADS, row.client_account.agency):
            raise PermissionDenied("Your agency has not allowed clients to answer leads from the portal.")
        return key, row

    def create(self, request, *args, **kwargs) -> Response:
        data = self.input_class(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        key, source = self._source(data.validated_data)
        try:
            row = self.perform(key, source, data.validated_data)
        except PushRefused as exc:
            raise ValidationError({exc.field or "non_field_errors": [exc.message]}) from exc
        return Response(self.get_serializer(row).data, status=201)

    def perform(self, key: str, source: Model, data: dict) -> Model:  # pragma: no cover - each subclass has one
        raise NotImplementedError


class _LeadSourceInput(_ScopedInput):
    """The lead answered: exactly one of a conversation, a call or a form submission the person may see."""

    conversation = serializers.PrimaryKeyRelatedField(queryset=TextConversation.objects, required=False,
                                                      allow_null=True)  # fmt: skip
    call = serializers.PrimaryKeyRelatedField(queryset=Call.objects, required=False, allow_null=True)
    form_submission = serializers.PrimaryKeyRelatedField(queryset=FormSubmission.objects, required=False,
                                                         allow_null=True)  # fmt: skip


class TextInput(_LeadSourceInput):
    tracking_number = serializers.CharField(required=False, allow_blank=True, max_length=32)
    content = serializers.CharField(max_length=2000, allow_blank=True)


class OutgoingTextSerializer(TenantModelSerializer):
    state = serializers.SerializerMethodField(help_text="pending, sent, failed or discarded")
    message = serializers.SerializerMethodField(help_text="CallRail's message (a failure), or why it waits")

    class Meta:
        model = OutgoingText
        fields = ["id", "client_account", "company", "conversation", "source_call", "source_form", "tracking_number",
                  "customer_phone_number", "content", "created_at", "sent_at", "state", "message"]  # fmt: skip
        read_only_fields = fields

    def get_state(self, obj: OutgoingText) -> str:
        return text_state(obj)

    def get_message(self, obj: OutgoingText) -> str:
        return obj.entry.message if obj.entry is not None else ""


@extend_schema(request=TextInput, responses=OutgoingTextSerializer)
class TextViewSet(_ListCreate):
    queryset = OutgoingText.objects.order_by("-created_at", "-pk")
    serializer_class = OutgoingTextSerializer
    input_class = TextInput

    def perform(self, key: str, source: Model, data: dict) -> Model:
        kwargs: dict[str, Any] = {{"conversation": "conversation", "call": "source_call",
                                   "form_submission": "source_form"}[key]: source}  # fmt: skip
        return text_send(
            account=source.client_account,
            content=data.get("content") or "",
            actor=self.request.user,
            customer_phone_number=source.customer_phone_number or "",
            tracking_number=data.get("tracking_number") or None,
            company=source.company,
            **kwargs,
        )


class CallBackInput(_LeadSourceInput):
    caller_id = serializers.CharField(max_length=32, help_text="An active tracking number or verified caller ID.")
    business_phone_number = serializers.CharField(max_length=32, help_text="Your phone: CallRail rings it first.")


class CallBackSerializer(TenantModelSerializer):
    state = serializers.SerializerMethodField(help_text="pending, placed, failed or discarded")
    message = serializers.SerializerMethodField()

    class Meta:
        model = CallBack
        fields = ["id", "client_account", "company", "caller_id", "business_phone_number", "customer_phone_number",
                  "source_call", "source_form", "source_conversation", "call", "created_at", "placed_at", "state",
                  "message"]  # fmt: skip
        read_only_fields = fields

    def get_state(self, obj: CallBack) -> str:
        from apps.calls.callbacks import call_back_state

        return call_back_state(obj)

    def get_message(self, obj: CallBack) -> str:
        return obj.entry.message if obj.entry is not None else ""


@extend_schema(request=CallBackInput, responses=CallBackSerializer)
class CallBackViewSet(_ListCreate):
    queryset = CallBack.objects.order_by("-created_at", "-pk")
    serializer_class = CallBackSerializer
    input_class = CallBackInput

    def perform(self, key: str, source: Model, data: dict) -> Model:
        from apps.calls.callbacks import call_back_start, caller_ids

        kwargs = {{"conversation": "source_conversation", "call": "source_call",
                   "form_submission": "source_form"}[key]: source}  # fmt: skip
        allowed = caller_ids(account=source.client_account, company=source.company)[0] if source.company_id else []
        return call_back_start(
            account=source.client_account,
            customer_phone_number=source.customer_phone_number or "",
            business_phone_number=data["business_phone_number"],
            caller_id=data["caller_id"],
            company=source.company,
            actor=self.request.user,
            allowed_caller_ids=allowed,
            **kwargs,
        )


class MissedLeadSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="call, form or text")
    id = serializers.IntegerField(help_text="The call's, form submission's or conversation's id")
    client_account = serializers.IntegerField()
    at = serializers.DateTimeField()
    age_seconds = serializers.IntegerField()
    customer_phone_number = serializers.CharField()
    customer_name = serializers.CharField(allow_blank=True)
    assignee = serializers.IntegerField(allow_null=True)


class LeadAssignInput(serializers.Serializer):
    client_account = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["call", "form", "text"])
    id = serializers.IntegerField(help_text="The call's, form submission's or conversation's id")
    assignee = serializers.IntegerField(allow_null=True, help_text="A member who works in the account; null: nobody")


class MissedLeadViewSet(viewsets.GenericViewSet):
    permission_classes: ClassVar = [PolicyPermission]
    write_permission: ClassVar[Can] = Can.ANSWER_LEADS
    queryset = LeadAssignment.objects.none()  # for the schema only: the list is computed by the selector
    pagination_class = None  # the inbox is one list (at most 500 leads of each kind)
    serializer_class = MissedLeadSerializer

    @extend_schema(responses=MissedLeadSerializer(many=True))
    def list(self, request, *args, **kwargs) -> Response:
        from apps.leads.selectors import missed_leads
        from apps.tenancy.models import ClientAccount

        account = None  # agencies where the person may not answer leads contribute nothing (an empty list)
        if request.query_params.get("client_account"):
            try:
                pk = int(request.query_params["client_account"])
            except ValueError as exc:
                raise ValidationError({"client_account": ["A valid integer is required."]}) from exc
            account = ClientAccount.objects.visible_to(request.user).filter(pk=pk).first()
            if account is None:
                raise ValidationError({"client_account": ["No such client account."]})
        leads = [
            lead for lead in missed_leads(user=request.user, agency=None, account=account)
            if allows(request.user, Can.ANSWER_LEADS, lead.account.agency)
        ]  # fmt: skip
        rows = [{"kind": str(lead.kind), "id": lead.row.pk, "client_account": lead.account.pk, "at": lead.at,
                 "age_seconds": int(lead.age.total_seconds()), "customer_phone_number": lead.number,
                 "customer_name": lead.name, "assignee": lead.assignee.pk if lead.assignee else None}
                for lead in leads]  # fmt: skip
        return Response(MissedLeadSerializer(rows, many=True).data)


    @extend_schema(request=LeadAssignInput, responses=LeadAssignInput)
    @action(detail=False, methods=["post"])
    def assign(self, request, *args, **kwargs) -> Response:
        """Assign a lead to a member who works in its account (or to nobody), as the inbox's picker does."""
        from apps.leads.selectors import assignable_members, lead_row
        from apps.leads.services import lead_assign
        from apps.tenancy.models import ClientAccount

        data = LeadAssignInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        account = ClientAccount.objects.visible_to(request.user).filter(pk=values["client_account"]).first()
        if account is None:
            raise ValidationError({"client_account": ["No such client account."]})
        if not allows(request.user, Can.ANSWER_LEADS, account.agency):
            raise PermissionDenied(refusal(Can.ANSWER_LEADS))
        row = lead_row(user=request.user, agency=None, account=account, kind=values["kind"], pk=values["id"])
        if row is None:
            raise ValidationError({"id": ["No such lead in this account."]})
        assignee = None
        if values["assignee"] is not None:
            members = assignable_members(agency=account.agency, account=account)
            assignee = next((m for m in members if m.pk == values["assignee"]), None)
            if assignee is None:
                raise ValidationError({"assignee": ["That person does not work in this account."]})
        lead_assign(account=account, kind=values["kind"], row=row, assignee=assignee, actor=request.user)
        return Response({"kind": values["kind"], "id": row.pk, "client_account": account.pk,
                         "assignee": assignee.pk if assignee else None})  # fmt: skip


def register(router: Any) -> None:
    router.register("texts", TextViewSet, basename="text")
    router.register("call-backs", CallBackViewSet, basename="call-back")
    router.register("missed-leads", MissedLeadViewSet, basename="missed-lead")
