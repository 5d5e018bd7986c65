from __future__ import annotations

from django import forms

from .models import AuthMode, ClientAccount


class ClientAccountForm(forms.ModelForm):
    """Connect or edit a client account. The key is write-only: blank on edit keeps the stored one."""

    api_key = forms.CharField(
        label="API key",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The CallRail API key (Settings › API keys), or the gateway key in gateway mode.",
    )

    class Meta:
        model = ClientAccount
        fields = ["name", "callrail_account_id", "auth_mode", "api_key", "connection_id", "base_url", "time_zone"]

    def __init__(self, *args, agency, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.instance.agency = agency
        if self.instance.pk:
            self.fields["api_key"].help_text = (
                f"Stored: {self.instance.masked_api_key}. Leave empty to keep it; type a new key to replace it."
            )

    def clean_api_key(self) -> str:
        key = self.cleaned_data.get("api_key", "").strip()
        if not key and not self.instance.pk:
            raise forms.ValidationError("Enter the API key: CallRail cannot be reached without one.")
        return key

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("auth_mode") != AuthMode.GATEWAY:
            cleaned["connection_id"] = ""
        return cleaned

    def _post_clean(self) -> None:
        # The model requires a key; on edit an empty field means "keep the stored key".
        if self.cleaned_data.get("api_key") == "" and self.instance.pk:
            self.cleaned_data.pop("api_key")
        super()._post_clean()
