from django.apps import AppConfig


class TextConversationsConfig(AppConfig):
    name = "apps.text_conversations"
    label = "text_conversations"
    verbose_name = "Text conversations (CallRail)"

    def ready(self) -> None:
        from .sending import register

        register()  # the outbox learns how a text is sent (apps/push imports no domain app)
