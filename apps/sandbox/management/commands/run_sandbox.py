"""``manage.py run_sandbox``: the CallRail sandbox as its own process (a thin wrapper over the CLI)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from apps.sandbox.cli import add_arguments, run


class Command(BaseCommand):
    help = "Run the CallRail API v3 sandbox (emulator) on a host and port."

    def add_arguments(self, parser) -> None:
        add_arguments(parser)

    def handle(self, *args, **options) -> None:
        run(options, out=self.stdout)
