from django.apps import AppConfig


class CallRailConfig(AppConfig):
    name = "apps.callrail"
    label = "callrail"
    verbose_name = "CallRail client"
