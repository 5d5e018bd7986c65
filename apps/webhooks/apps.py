from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    label = "webhooks"
    verbose_name = "CallRail webhooks"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apps.sync.services import FRESH_DATA_SOURCES

        from .models import WebhookEndpoint, WebhookSigningKey
        from .selectors import webhooks_healthy
        from .services import webhook_keys_forget

        for model in (WebhookSigningKey, WebhookEndpoint):  # this process's cached keys (other processes: services)
            post_save.connect(webhook_keys_forget, sender=model, dispatch_uid=f"webhooks-keys-saved-{model.__name__}")
            post_delete.connect(webhook_keys_forget, sender=model, dispatch_uid=f"webhooks-keys-gone-{model.__name__}")

        if webhooks_healthy not in FRESH_DATA_SOURCES:  # while signed webhooks arrive, polling may slow down
            FRESH_DATA_SOURCES.append(webhooks_healthy)
