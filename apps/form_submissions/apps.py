from django.apps import AppConfig


class FormSubmissionsConfig(AppConfig):
    name = "apps.form_submissions"
    label = "form_submissions"
    verbose_name = "Form submissions (CallRail)"
