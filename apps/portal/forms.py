from django import forms
from django.db import transaction

from apps.sync.models import SyncSchedule


class SyncScheduleForm(forms.ModelForm):
    class Meta:
        model = SyncSchedule
        fields = ["incremental_every_minutes", "full_every_hours", "full_at_hour"]
        labels = {
            "incremental_every_minutes": "Incremental sync every (minutes)",
            "full_every_hours": "Full sync every (hours)",
            "full_at_hour": "Full sync at hour (account time)",
        }


# --- Edit and create forms of the mirrored resources (issue 8). Each form only collects and checks input;
# saving goes through the resource's write service (which queues the push). PushRefused and ValidationError
# become form errors with the reason, and the bound form keeps everything typed.

import json  # noqa: E402
from typing import Any  # noqa: E402

from django.core.exceptions import ValidationError  # noqa: E402

from apps.push import validation as v  # noqa: E402
from apps.push.services import PushRefused  # noqa: E402


def _choices(values, blank: str | None = None) -> list[tuple[str, str]]:
    out = [("", blank)] if blank is not None else []
    return out + [(x, x.replace("_", " ").capitalize()) for x in values]


class ResourceForm(forms.Form):
    """A form whose ``save`` calls the write services; ``instance`` is None for a create."""

    delete_label = "Delete"  # what the confirm page calls removing one (trackers and companies: "Disable")

    def __init__(self, *args: Any, account: Any, instance: Any = None, **kwargs: Any) -> None:
        self.account = account
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(instance)
        super().__init__(*args, **kwargs)
        if instance is not None:
            for name in self.create_only:
                self.fields.pop(name, None)

    create_only: tuple[str, ...] = ()

    def initial_for(self, instance: Any) -> dict[str, Any]:
        return {name: getattr(instance, name, None) for name in self.base_fields}

    def scoped(self, model: Any):
        return model.objects.for_account(self.account).live()

    def save(self, *, actor: Any) -> Any:
        """Call the service; on a refusal, add the reason to the form and return None."""
        try:
            if self.instance is None:
                return self.create(actor=actor)
            return self.update(actor=actor)
        except PushRefused as exc:
            field = exc.field if exc.field in self.fields else None
            self.add_error(field, exc.message if field else f"{exc.message}")
        except ValidationError as exc:
            self.add_error(None, exc)
        return None

    def create(self, *, actor: Any) -> Any:  # pragma: no cover - resources without creation
        raise PushRefused("This record cannot be created in the portal.")

    def update(self, *, actor: Any) -> Any:  # pragma: no cover
        raise PushRefused("This record cannot be changed in the portal.")

    def delete(self, *, actor: Any) -> None:
        raise PushRefused("This record cannot be removed in the portal.")


def _model(label: str):
    from django.apps import apps

    return apps.get_model(label)


class TagPicker(forms.Widget):
    """Checkboxes of the tags a call may carry, grouped (the call's company, the whole account), with a search
    that narrows them; a disabled tag is shown with why it cannot be picked. Accepts a list of names (a form
    post) or one comma-separated string (the REST API)."""

    template_name = "portal/widgets/tag_picker.html"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tags: list[Any] = []  # Tag rows: the call's company's and the account's
        self.manage_url = ""
        self.staff = False

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        if hasattr(data, "getlist"):
            values = data.getlist(name)
            return values if len(values) != 1 else values[0]
        return data.get(name)

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return False  # no box ticked means "no tags"

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        from .labels import TAG_SWATCHES

        context = super().get_context(name, value, attrs)
        chosen = {n.lower() for n in TagNamesField.names(value)}
        groups: dict[str, list[dict[str, Any]]] = {}
        for tag in self.tags:
            enabled = tag.status == "enabled"
            held = tag.name.lower() in chosen
            fix = "enable it on the Tags page to use it" if self.staff else "ask your agency to enable it"
            note = "" if enabled else (
                "disabled in CallRail: it stays on this call until you untick it" if held
                else f"disabled in CallRail — {fix}"
            )  # fmt: skip
            group = f"{tag.company.name} tags" if tag.company_id and tag.company else "Account-wide tags"
            groups.setdefault(group, []).append({
                "name": tag.name, "checked": held, "disabled": not enabled and not held, "note": note,
                "swatch": TAG_SWATCHES.get(tag.color or "", "#9ca3af"),
            })  # fmt: skip
        context["widget"]["groups"] = [{"label": k, "options": v} for k, v in groups.items()]
        context["widget"]["manage_url"] = self.manage_url
        return context


class TagNamesField(forms.Field):
    widget = TagPicker

    @staticmethod
    def names(value: Any) -> list[str]:
        if value in (None, ""):
            return []
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        return list(dict.fromkeys(str(n).strip() for n in items if str(n).strip()))

    def to_python(self, value: Any) -> list[str]:
        return self.names(value)

    def prepare_value(self, value: Any) -> Any:
        return self.names(value)


class CallForm(ResourceForm):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=10000)
    lead_status = forms.ChoiceField(choices=_choices(v.LEAD_STATUSES, "No lead status"), required=False)
    value = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2, label="Value ($)")
    tags = TagNamesField(required=False, help_text="The tags of the call's company and of the whole account.")
    # the picker shows the call's whole set of tags; the REST API may still ask to add (CallRail's append_tags)
    tags_mode = forms.ChoiceField(
        choices=(("replace", "Replace the call's tags"), ("append", "Add to the call's tags")),
        initial="replace", widget=forms.HiddenInput, required=False,
    )  # fmt: skip
    customer_name = forms.CharField(required=False, max_length=255)
    spam = forms.BooleanField(required=False, label="Mark as spam (cannot be undone in CallRail)")

    #: what a client may change when the agency lets clients annotate their calls
    ANNOTATE = ("note", "lead_status", "value", "tags", "tags_mode")

    def __init__(self, *args: Any, only: tuple[str, ...] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if only is not None:
            for name in list(self.fields):
                if name not in only:
                    self.fields.pop(name)
        if "tags" in self.fields and self.instance is not None:
            from django.db.models import Q
            from django.urls import reverse

            picker = self.fields["tags"].widget
            company = Q(company_id=self.instance.company_id) if self.instance.company_id else Q(pk__in=[])
            picker.tags = list(
                self.scoped(_model("tags.Tag"))
                .filter(company | Q(company__isnull=True))
                .exclude(callrail_id__startswith="pending:")
                .select_related("company")
                .order_by("company_id", "name")
            )
            picker.staff = only is None  # the agency's staff can enable a tag; a client asks them
            picker.manage_url = reverse("portal:resource_list", args=[self.account.pk, "tags"]) if picker.staff else ""

    def initial_for(self, instance: Any) -> dict[str, Any]:
        return {
            "note": instance.note or "", "lead_status": instance.lead_status or "", "value": instance.value,
            "tags": list(instance.tags or []), "tags_mode": "replace",
            "customer_name": instance.customer_name or "", "spam": bool(instance.spam),
        }  # fmt: skip

    def update(self, *, actor: Any) -> Any:
        from apps.calls import services

        data, call, changed = self.cleaned_data, self.instance, {}
        for name in ("note", "lead_status", "customer_name"):
            if name in self.fields and (data.get(name) or "") != (getattr(call, name) or ""):
                changed[name] = data.get(name) or None
        if "value" in self.fields and data.get("value") != call.value:
            changed["value"] = data.get("value")
        names = TagNamesField.names(data.get("tags")) if "tags" in self.fields else None
        append = data.get("tags_mode") == "append"
        if names is not None and not append and [n.lower() for n in names] != [t.lower() for t in call.tags or []]:
            changed["tags"] = names
        with transaction.atomic():
            if changed:
                call = services.call_update(call=call, actor=actor, **changed)
            if names and append:
                call = services.call_tags_append(call=call, tags=names, actor=actor)
            if data.get("spam") and not call.spam:
                call = services.call_spam_mark(call=call, actor=actor)
        return call


class TagForm(ResourceForm):
    name = forms.CharField(max_length=255)
    color = forms.ChoiceField(choices=_choices(v.TAG_COLORS), initial="gray1")
    tag_level = forms.ChoiceField(choices=(("company", "Company tag"), ("account", "Account-wide tag")))
    company = forms.ModelChoiceField(queryset=None, required=False)
    create_only = ("tag_level", "company")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "company" in self.fields:
            self.fields["company"].queryset = self.scoped(_model("companies.Company")).order_by("name")

    def create(self, *, actor: Any) -> Any:
        from apps.tags.services import tag_create

        d = self.cleaned_data
        return tag_create(account=self.account, name=d["name"], tag_level=d["tag_level"], company=d.get("company"),
                          color=d["color"], actor=actor)  # fmt: skip

    def update(self, *, actor: Any) -> Any:
        from apps.tags.services import tag_update

        d = self.cleaned_data
        return tag_update(tag=self.instance, name=d["name"], color=d["color"], actor=actor)

    def delete(self, *, actor: Any) -> None:
        from apps.tags.services import tag_delete

        tag_delete(tag=self.instance, actor=actor)


class CompanyForm(ResourceForm):
    name = forms.CharField(max_length=255)
    time_zone = forms.CharField(max_length=64, required=False, help_text="e.g. America/New_York")
    delete_label = "Disable"

    def create(self, *, actor: Any) -> Any:
        from apps.companies.services import company_create

        d = self.cleaned_data
        return company_create(account=self.account, name=d["name"], time_zone=d["time_zone"], actor=actor)

    def update(self, *, actor: Any) -> Any:
        from apps.companies.services import company_update

        d = self.cleaned_data
        return company_update(company=self.instance, name=d["name"], time_zone=d["time_zone"] or None, actor=actor)

    def delete(self, *, actor: Any) -> None:
        from apps.companies.services import company_disable

        company_disable(company=self.instance, actor=actor)


class TrackerForm(ResourceForm):
    name = forms.CharField(max_length=255)
    company = forms.ModelChoiceField(queryset=None)
    type = forms.ChoiceField(choices=(("source", "Source tracker"), ("session", "Website (session) tracker")))
    source_type = forms.ChoiceField(choices=_choices(v.SOURCE_TYPES), label="Source", initial="all")
    destination_number = forms.CharField(max_length=32, help_text="Where calls ring, e.g. +14045550100")
    area_code = forms.CharField(max_length=3, required=False)
    toll_free = forms.BooleanField(required=False)
    pool_size = forms.IntegerField(required=False, min_value=4, max_value=50, help_text="Session trackers: 4-50")
    whisper_message = forms.CharField(max_length=500, required=False)
    sms_enabled = forms.BooleanField(required=False, label="Text messaging")
    call_flow = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False,
        help_text="Optional JSON of CallRail's call flow; missing keys keep their current value.",
    )  # fmt: skip
    create_only = ("company", "type", "area_code", "toll_free", "pool_size")
    delete_label = "Disable"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "company" in self.fields:
            self.fields["company"].queryset = self.scoped(_model("companies.Company")).order_by("name")

    def initial_for(self, instance: Any) -> dict[str, Any]:
        return {
            "name": instance.name, "source_type": (instance.source or {}).get("type", "") or instance.source_type,
            "destination_number": instance.destination_number or "", "whisper_message": instance.whisper_message or "",
            "sms_enabled": bool(instance.sms_enabled), "call_flow": "",
        }  # fmt: skip

    def clean_call_flow(self) -> dict | None:
        raw = (self.cleaned_data.get("call_flow") or "").strip()
        if not raw:
            return None
        try:
            flow = json.loads(raw)
        except ValueError as exc:
            raise ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(flow, dict):
            raise ValidationError("The call flow is a JSON object.")
        return flow

    def _source(self) -> Any:
        source_type = self.cleaned_data.get("source_type") or "all"
        kind = self.cleaned_data.get("type") or (self.instance.type if self.instance else "source")
        if kind == "session":
            return "all" if source_type == "all" else {"type": source_type}
        current = dict(self.instance.source or {}) if self.instance is not None else {}
        return current if current.get("type") == source_type else {"type": source_type}

    def create(self, *, actor: Any) -> Any:
        from apps.trackers.services import tracker_create

        d = self.cleaned_data
        return tracker_create(
            account=self.account, company=d["company"], name=d["name"], type=d["type"], source=self._source(),
            call_flow=d.get("call_flow"), destination_number=d["destination_number"], area_code=d.get("area_code"),
            toll_free=d.get("toll_free", False), pool_size=d.get("pool_size"),
            whisper_message=d.get("whisper_message") or None, sms_enabled=d.get("sms_enabled", False), actor=actor,
        )  # fmt: skip

    def update(self, *, actor: Any) -> Any:
        from apps.trackers.services import tracker_update

        d, t = self.cleaned_data, self.instance
        kwargs: dict[str, Any] = {"name": d["name"]}
        if d["destination_number"] != (t.destination_number or "") or d.get("call_flow"):
            kwargs["destination_number"] = d["destination_number"]
            kwargs["call_flow"] = d.get("call_flow")
        if self._source() != (t.source or {}):
            kwargs["source"] = self._source()
        if (d.get("whisper_message") or "") != (t.whisper_message or ""):
            kwargs["whisper_message"] = d.get("whisper_message") or ""
        if bool(d.get("sms_enabled")) != bool(t.sms_enabled):
            kwargs["sms_enabled"] = bool(d.get("sms_enabled"))
        return tracker_update(tracker=t, actor=actor, **kwargs)

    def delete(self, *, actor: Any) -> None:
        from apps.trackers.services import tracker_disable

        tracker_disable(tracker=self.instance, actor=actor)


class CallRailUserForm(ResourceForm):
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField()
    role = forms.ChoiceField(choices=_choices(v.USER_ROLES))
    companies = forms.ModelMultipleChoiceField(queryset=None, required=False, widget=forms.CheckboxSelectMultiple)
    create_only = ("first_name", "last_name", "email", "role")  # CallRail's API cannot change a role

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["companies"].queryset = self.scoped(_model("companies.Company")).order_by("name")

    def initial_for(self, instance: Any) -> dict[str, Any]:
        companies = self.scoped(_model("companies.Company")).filter(callrail_id__in=instance.company_ids or [])
        return {"role": instance.role, "companies": list(companies)}

    def create(self, *, actor: Any) -> Any:
        from apps.users.services import callrail_user_create

        d = self.cleaned_data
        return callrail_user_create(
            account=self.account, first_name=d["first_name"], last_name=d["last_name"], email=d["email"],
            role=d["role"], companies=list(d["companies"]), actor=actor,
        )  # fmt: skip

    def update(self, *, actor: Any) -> Any:
        from apps.users.services import callrail_user_update

        d = self.cleaned_data
        return callrail_user_update(user=self.instance, companies=list(d["companies"]), actor=actor)

    def delete(self, *, actor: Any) -> None:
        from apps.users.services import callrail_user_delete

        callrail_user_delete(user=self.instance, actor=actor)


NOTIFICATION_FLAGS = ("call_enabled", "sms_enabled", "send_email", "send_push", "send_desktop")


class NotificationForm(ResourceForm):
    user = forms.ModelChoiceField(queryset=None, required=False, label="CallRail user")
    email = forms.EmailField(required=False, help_text="Or an email address (email alerts only)")
    company = forms.ModelChoiceField(queryset=None, required=False)
    tracker = forms.ModelChoiceField(queryset=None, required=False)
    alert_type = forms.ChoiceField(choices=_choices(v.ALERT_TYPES, "—"), required=False)
    call_enabled = forms.BooleanField(required=False, label="Calls")
    sms_enabled = forms.BooleanField(required=False, label="Texts")
    send_email = forms.BooleanField(required=False, label="By email")
    send_push = forms.BooleanField(required=False, label="By push")
    send_desktop = forms.BooleanField(required=False, label="On the desktop")
    create_only = ("user", "email")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "user" in self.fields:
            self.fields["user"].queryset = self.scoped(_model("callrail_users.CallRailUser")).order_by("name")
        self.fields["company"].queryset = self.scoped(_model("companies.Company")).order_by("name")
        self.fields["tracker"].queryset = self.scoped(_model("trackers.Tracker")).order_by("name")

    def initial_for(self, instance: Any) -> dict[str, Any]:
        out = {f: bool(getattr(instance, f)) for f in NOTIFICATION_FLAGS}
        out.update(company=instance.company_id, tracker=instance.tracker_id, alert_type=instance.alert_type or "")
        return out

    def create(self, *, actor: Any) -> Any:
        from apps.notifications.services import notification_create

        d = self.cleaned_data
        return notification_create(
            account=self.account, user=d.get("user"), email=d.get("email") or None, company=d.get("company"),
            tracker=d.get("tracker"), alert_type=d.get("alert_type") or None, actor=actor,
            **{f: d.get(f, False) for f in NOTIFICATION_FLAGS},
        )  # fmt: skip

    def update(self, *, actor: Any) -> Any:
        from apps.notifications.services import notification_update

        d = self.cleaned_data
        return notification_update(notification=self.instance, alert_type=d.get("alert_type") or None,
                                   company=d.get("company"), tracker=d.get("tracker"), actor=actor,
                                   **{f: d.get(f, False) for f in NOTIFICATION_FLAGS})  # fmt: skip

    def delete(self, *, actor: Any) -> None:
        from apps.notifications.services import notification_delete

        notification_delete(notification=self.instance, actor=actor)


class SummaryEmailForm(ResourceForm):
    user = forms.ModelChoiceField(queryset=None, required=False, label="CallRail user")
    email = forms.EmailField(required=False, help_text="Or an email address (needs a company)")
    company = forms.ModelChoiceField(queryset=None, required=False, help_text="Empty: the whole account")
    frequency = forms.MultipleChoiceField(choices=_choices(v.FREQUENCIES), widget=forms.CheckboxSelectMultiple)
    config = forms.MultipleChoiceField(choices=_choices(v.SUMMARY_CONFIG_KEYS), widget=forms.CheckboxSelectMultiple,
                                       label="Contents")  # fmt: skip
    create_only = ("user", "email", "company")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "user" in self.fields:
            self.fields["user"].queryset = self.scoped(_model("callrail_users.CallRailUser")).order_by("name")
            self.fields["company"].queryset = self.scoped(_model("companies.Company")).order_by("name")

    def initial_for(self, instance: Any) -> dict[str, Any]:
        return {
            "frequency": list(instance.frequency or []),
            "config": [k for k, on in (instance.config or {}).items() if on],
        }

    def _config(self) -> dict[str, bool]:
        chosen = set(self.cleaned_data.get("config") or [])
        return {k: k in chosen for k in v.SUMMARY_CONFIG_KEYS}

    def create(self, *, actor: Any) -> Any:
        from apps.summary_emails.services import summary_email_create

        d = self.cleaned_data
        return summary_email_create(account=self.account, frequency=d["frequency"], config=self._config(),
                                    user=d.get("user"), email=d.get("email") or None, company=d.get("company"),
                                    actor=actor)  # fmt: skip

    def update(self, *, actor: Any) -> Any:
        from apps.summary_emails.services import summary_email_update

        return summary_email_update(summary_email=self.instance, frequency=self.cleaned_data["frequency"],
                                    config=self._config(), actor=actor)  # fmt: skip

    def delete(self, *, actor: Any) -> None:
        from apps.summary_emails.services import summary_email_delete

        summary_email_delete(summary_email=self.instance, actor=actor)


class IntegrationForm(ResourceForm):
    """CallRail's Webhooks integration of a company: one URL list per event."""

    company = forms.ModelChoiceField(queryset=None)
    create_only = ("company",)
    delete_label = "Disable"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "company" in self.fields:
            self.fields["company"].queryset = self.scoped(_model("companies.Company")).order_by("name")
        for event in v.WEBHOOK_EVENTS:
            self.fields[event] = forms.CharField(
                required=False, label=event.replace("_", " ").capitalize(),
                widget=forms.Textarea(attrs={"rows": 1}), help_text="URLs, one per line",
            )  # fmt: skip
            if self.instance is not None and event not in self.initial:
                self.initial[event] = "\n".join((self.instance.config or {}).get(event) or [])

    def initial_for(self, instance: Any) -> dict[str, Any]:
        return {}

    def _config(self) -> dict[str, list[str]]:
        out = {}
        for event in v.WEBHOOK_EVENTS:
            urls = [u.strip() for u in (self.cleaned_data.get(event) or "").splitlines() if u.strip()]
            if urls:
                out[event] = urls
        return out

    def create(self, *, actor: Any) -> Any:
        from apps.integrations.services import webhook_integration_create

        return webhook_integration_create(account=self.account, company=self.cleaned_data["company"],
                                          config=self._config(), actor=actor)  # fmt: skip

    def update(self, *, actor: Any) -> Any:
        from apps.integrations.services import integration_update

        if self.instance.type != "Webhooks":
            raise PushRefused("Only CallRail's Webhooks integration can be changed in the portal.")
        return integration_update(integration=self.instance, config=self._config(), actor=actor)

    def delete(self, *, actor: Any) -> None:
        from apps.integrations.services import integration_disable

        integration_disable(integration=self.instance, actor=actor)


#: resource name (catalog) -> its form
RESOURCE_FORMS: dict[str, type[ResourceForm]] = {
    "calls": CallForm, "tags": TagForm, "companies": CompanyForm, "trackers": TrackerForm, "users": CallRailUserForm,
    "notifications": NotificationForm, "summary_emails": SummaryEmailForm, "integrations": IntegrationForm,
}  # fmt: skip
