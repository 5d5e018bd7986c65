from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "apps.push"
    label = "push"
    verbose_name = "CallRail push (outbox)"

    def ready(self) -> None:
        from apps.sync import engine

        from .engine import pull_hold

        if pull_hold not in engine.PENDING_EDIT_HOOKS:
            engine.PENDING_EDIT_HOOKS.append(pull_hold)
