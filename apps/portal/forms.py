from django import forms

from apps.sync.models import SyncSchedule


class SyncScheduleForm(forms.ModelForm):
    class Meta:
        model = SyncSchedule
        fields = ["incremental_every_minutes", "full_every_hours", "full_at_hour", "reread_days", "reread_every_hours"]
        labels = {
            "incremental_every_minutes": "Incremental sync every (minutes)",
            "full_every_hours": "Full sync every (hours)",
            "full_at_hour": "Full sync at hour (account time)",
            "reread_days": "Re-read calls of the last (days)",
            "reread_every_hours": "Re-read every (hours)",
        }
