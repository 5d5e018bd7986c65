from django.apps import AppConfig


class TextConversationsConfig(AppConfig):
    name = "apps.text_conversations"
    label = "text_conversations"
    verbose_name = "Text conversations (CallRail)"
