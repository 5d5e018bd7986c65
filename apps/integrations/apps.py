from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"
    verbose_name = "Integrations (CallRail)"

    def ready(self) -> None:
        from apps.push.writes import register_answer_hook

        from .services import integration_answer_received

        register_answer_hook("integrations", integration_answer_received)
