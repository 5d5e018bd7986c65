from __future__ import annotations

from django import forms


class SigningKeyForm(forms.Form):
    signing_key = forms.CharField(
        label="Signing key",
        max_length=200,
        strip=True,
        help_text="From CallRail: Settings → Integrations → Webhooks of this company. Stored encrypted.",
        widget=forms.PasswordInput(render_value=True, attrs={"autocomplete": "off"}),
    )

    def clean_signing_key(self) -> str:
        value = self.cleaned_data["signing_key"]
        if len(value) < 16 or any(ch.isspace() for ch in value):
            raise forms.ValidationError("That does not look like a CallRail signing key (16+ characters, no spaces).")
        return value
