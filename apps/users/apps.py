from django.apps import AppConfig


class CallrailUsersConfig(AppConfig):
    name = "apps.users"
    label = "callrail_users"
    verbose_name = "Users (CallRail)"
