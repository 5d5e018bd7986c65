from django.contrib import admin

from apps.tenancy.admin import MirrorAdmin

from .models import TextConversation, TextMessage


@admin.register(TextConversation)
class TextConversationAdmin(MirrorAdmin):
    list_display = ["callrail_id", "client_account", "customer_name", "last_message_at", "state", "deleted_upstream_at"]
    list_filter = ["client_account", "state"]


@admin.register(TextMessage)
class TextMessageAdmin(MirrorAdmin):
    list_display = ["callrail_id", "client_account", "conversation", "direction", "sent_at", "status"]
    list_filter = ["client_account", "direction"]
