from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running the portal: Prometheus metrics, the system page, data retention and account deletion."""

    name = "apps.operations"
    label = "operations"
    verbose_name = "Operations"
