from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "apps.calls"
    label = "calls"
    verbose_name = "Calls (CallRail)"

    def ready(self) -> None:
        from .callbacks import register

        register()  # the outbox learns how a call back is placed (apps/push imports no domain app)
