from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    label = "webhooks"
    verbose_name = "CallRail webhooks"

    def ready(self) -> None:
        from apps.sync.services import FRESH_DATA_SOURCES

        from .selectors import webhooks_healthy

        if webhooks_healthy not in FRESH_DATA_SOURCES:  # while signed webhooks arrive, polling may slow down
            FRESH_DATA_SOURCES.append(webhooks_healthy)
