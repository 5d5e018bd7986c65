from django.apps import AppConfig


class FormSubmissionsConfig(AppConfig):
    name = "apps.form_submissions"
    label = "form_submissions"
    verbose_name = "Form submissions (CallRail)"

    def ready(self) -> None:
        from .reports import register

        register()  # the outbox learns how ignored form fields are sent (apps/push imports no domain app)
