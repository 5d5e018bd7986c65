"""Forms of credentials, connections, imports and client accounts' connection settings. They validate
input only; the services write (and re-validate)."""

from __future__ import annotations

from django import forms

from apps.tenancy.models import TIME_ZONE_CHOICES, AuthMode, ClientAccount, callrail_account_id_validator

from .models import ConnectionStatus, Credential, GatewayConnection

KEY_WIDGET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "spellcheck": "false"})


class LimitFieldsMixin:
    """CallRail's general-request limits when CallRail raised them (blank: its defaults, 1,000 an hour and
    10,000 a day). Other classes (SMS, outbound calls) are set through the REST API."""

    def _limit_fields(self, overrides: dict | None, what: str) -> None:
        general = (overrides or {}).get("general") or {}
        self.fields["general_hour"] = forms.IntegerField(
            label=f"{what}: requests an hour", required=False, min_value=1, initial=general.get("hour"),
            help_text="Blank: CallRail's default (1,000). Set it only when CallRail raised the limit.",
        )  # fmt: skip
        self.fields["general_day"] = forms.IntegerField(
            label=f"{what}: requests a day", required=False, min_value=1, initial=general.get("day"),
            help_text="Blank: CallRail's default (10,000).",
        )  # fmt: skip
        self._other_limits = {k: v for k, v in (overrides or {}).items() if k != "general"}

    def limits(self) -> dict:
        data = self.cleaned_data
        general = {w: data[f"general_{w}"] for w in ("hour", "day") if data.get(f"general_{w}")}
        return {**self._other_limits, **({"general": general} if general else {})}


class CredentialCreateForm(LimitFieldsMixin, forms.Form):
    name = forms.CharField(max_length=200, help_text="How your team recognises it, e.g. “Agency API key”.")
    auth_mode = forms.ChoiceField(
        label="Kind", choices=AuthMode.choices, initial=AuthMode.DIRECT, widget=forms.RadioSelect,
        help_text="A CallRail API key (CallRail › Settings › API keys), or the key of the managed-OAuth gateway "
        "(clients then authorise with their own CallRail login; nobody handles their keys).",
    )  # fmt: skip
    api_key = forms.CharField(label="Key", widget=KEY_WIDGET, help_text="Stored encrypted; never shown again in full.")
    base_url = forms.CharField(
        label="API base URL", required=False,
        help_text="Leave empty for CallRail itself (or the gateway). Only addresses your operator allows are accepted.",
    )  # fmt: skip
    key_limit_enabled = forms.BooleanField(
        label="Budget per key", required=False, initial=True,
        help_text="All accounts of this key share one budget as well as each keeping its own: CallRail may "
        "throttle a key behind many accounts as one.",
    )  # fmt: skip

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._limit_fields(None, "Key limit")


class CredentialSettingsForm(LimitFieldsMixin, forms.Form):
    name = forms.CharField(max_length=200)
    key_limit_enabled = forms.BooleanField(
        label="Budget per key", required=False,
        help_text="Every account of this key also spends one shared budget (recommended).",
    )  # fmt: skip

    def __init__(self, *args, credential: Credential, **kwargs) -> None:
        kwargs.setdefault("initial", {"name": credential.name, "key_limit_enabled": credential.key_limit_enabled})
        super().__init__(*args, **kwargs)
        self._limit_fields(credential.budget_overrides, "Key limit")


class ReplaceKeyForm(forms.Form):
    """A new key; the base URL may change only here, together with the key."""

    api_key = forms.CharField(label="New key", widget=KEY_WIDGET)
    base_url = forms.CharField(
        label="API base URL", required=False,
        help_text="The key is only ever sent here. Leave empty for CallRail itself (or the gateway).",
    )  # fmt: skip

    def __init__(self, *args, credential: Credential, **kwargs) -> None:
        kwargs.setdefault("initial", {"base_url": credential.base_url})
        super().__init__(*args, **kwargs)


class ImportForm(forms.Form):
    accounts = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, error_messages={
        "required": "Tick at least one account to import.",
    })  # fmt: skip
    start_sync = forms.BooleanField(label="Start each account's first full sync now", required=False, initial=True)

    def __init__(self, *args, reachable: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reachable = {a.callrail_account_id: a for a in reachable}
        self.fields["accounts"].choices = [
            (a.callrail_account_id, a.name) for a in reachable if a.importable
        ]


class ConnectionCreateForm(forms.Form):
    label = forms.CharField(
        max_length=200, required=False, label="Whose CallRail login",
        help_text="Optional, e.g. the client's name: it tells the connections apart.",
    )  # fmt: skip


class SendLinkForm(forms.Form):
    email = forms.EmailField(label="Send the link to", help_text="The person who owns the client's CallRail login.")
    note = forms.CharField(label="Note", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))


def _connection_field(credentials) -> forms.ModelChoiceField:
    field = forms.ModelChoiceField(
        queryset=GatewayConnection.objects.filter(credential__in=credentials).exclude(status=ConnectionStatus.REMOVED),
        required=False, label="Gateway connection",
        help_text="Gateway keys only: the connection (CallRail login) that reaches the account.",
    )  # fmt: skip
    field.label_from_instance = lambda c: f"{c.credential.name} · {c} ({c.status_label})"
    return field


class ClientAccountConnectForm(forms.Form):
    """Connect one account by its id through one of the agency's credentials (importing lists them)."""

    credential = forms.ModelChoiceField(queryset=Credential.objects.none(), empty_label=None)
    gateway_connection = forms.ModelChoiceField(queryset=GatewayConnection.objects.none(), required=False)
    callrail_account_id = forms.CharField(
        label="CallRail account id", max_length=35, validators=[callrail_account_id_validator],
        help_text="ACC followed by 32 characters (CallRail › Settings › Account).",
    )  # fmt: skip
    name = forms.CharField(max_length=200)
    time_zone = forms.ChoiceField(
        choices=[("", "Read it from CallRail"), *TIME_ZONE_CHOICES], required=False,
        help_text="CallRail keeps time zones per company: blank takes the account's first company's.",
    )  # fmt: skip

    def __init__(self, *args, agency, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        credentials = agency.credentials.all()
        self.fields["credential"].queryset = credentials
        self.fields["gateway_connection"] = _connection_field(credentials)

    def clean(self):
        cleaned = super().clean()
        credential, connection = cleaned.get("credential"), cleaned.get("gateway_connection")
        if credential is not None and connection is not None and connection.credential_id != credential.pk:
            self.add_error("gateway_connection", "Choose a connection of the chosen credential.")
        return cleaned


class ClientAccountForm(LimitFieldsMixin, forms.ModelForm):
    """A client account's settings. Its key and destination belong to its credential: choosing another
    credential (or connection) is checked with CallRail before it is kept."""

    class Meta:
        model = ClientAccount
        fields = ["name", "time_zone", "credential", "gateway_connection"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        credentials = self.instance.agency.credentials.all()
        self.fields["credential"].queryset = credentials
        self.fields["credential"].empty_label = None
        self.fields["credential"].help_text = "The key this account is reached with (its base URL comes with it)."
        self.fields["gateway_connection"] = _connection_field(credentials)
        self._limit_fields(self.instance.budget_overrides, "Account limit")

    def _post_clean(self) -> None:  # the service validates and writes; keep the instance untouched here
        pass

    def clean(self):
        cleaned = super().clean()
        credential, connection = cleaned.get("credential"), cleaned.get("gateway_connection")
        if credential is not None and connection is not None and connection.credential_id != credential.pk:
            self.add_error("gateway_connection", "Choose a connection of the chosen credential.")
        return cleaned
