from django.apps import AppConfig


class SummaryEmailsConfig(AppConfig):
    name = "apps.summary_emails"
    label = "summary_emails"
    verbose_name = "Summary emails (CallRail)"
