from __future__ import annotations

from django import forms

from apps.companies.models import Company

from .models import Agency, ClientAccount, Role


class MembershipForm(forms.Form):
    """Role and account restriction, for an invitation or an existing member."""

    role = forms.ChoiceField(choices=Role.choices, initial=Role.STAFF)
    client_accounts = forms.ModelMultipleChoiceField(
        queryset=ClientAccount.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Staff: leave all unticked for every account. Clients: the accounts they may see.",
    )
    companies = forms.ModelMultipleChoiceField(
        queryset=Company.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Clients only: limit an account to some of its companies (none ticked: the whole account).",
    )

    def __init__(self, *args, agency, user, **kwargs) -> None:
        from .policy import grantable_roles

        super().__init__(*args, **kwargs)
        # Only the roles this user may grant (up to their own), highest first.
        roles = grantable_roles(user, agency)
        self.fields["role"].choices = [(role, Role(role).label) for role in roles]
        self.fields["role"].error_messages["invalid_choice"] = (
            "You cannot grant this role: members are managed up to your own role."
        )
        # Choices come through the scoping mechanism: only accounts this user may see in this agency.
        self.fields["client_accounts"].queryset = ClientAccount.objects.visible_to(user, agency)
        self.fields["companies"].queryset = (
            Company.objects.visible_to(user, agency)
            .live()
            .select_related("client_account")
            .order_by("client_account__name", "name")
        )
        self.fields["companies"].label_from_instance = lambda c: f"{c.client_account.name} · {c.name}"


class InvitationForm(MembershipForm):
    email = forms.EmailField()
    field_order = ["email", "role", "client_accounts", "companies"]


class InvitationAcceptForm(forms.Form):
    full_name = forms.CharField(max_length=200, required=False)
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class AgencySettingsForm(forms.ModelForm):
    logo_upload = forms.FileField(label="Logo", required=False, help_text="PNG, JPEG, WebP or SVG, at most 256 KB.")
    remove_logo = forms.BooleanField(required=False)

    class Meta:
        model = Agency
        fields = [
            "name",
            "primary_colour",
            "client_can_annotate_calls",
            "client_can_manage_summary_emails",
            "client_can_answer_leads",
            "require_two_factor",
            "retention_months",
        ]
        widgets = {"primary_colour": forms.TextInput(attrs={"type": "color"})}


class TwoFactorCodeForm(forms.Form):
    code = forms.RegexField(
        regex=r"^\d{6}$",
        label="6-digit code",
        error_messages={"invalid": "Enter the 6 digits your app shows."},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
