"""Write the export of one or more client accounts (the same zip a scheduled deletion writes first)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from apps.core.operator import accounts_named, add_account_arguments
from apps.operations.services import client_account_export


class Command(BaseCommand):
    help = "Export client accounts' mirrored data: a zip of JSON lines per resource. ACC… ids or portal ids."

    def add_arguments(self, parser) -> None:
        add_account_arguments(parser)
        parser.add_argument("--directory", type=Path, help="where to write (default OPERATIONS_EXPORT_DIR)")

    def handle(self, *args, **options) -> None:
        for account in accounts_named(options["accounts"], options["agency"]):
            result = client_account_export(account=account, directory=options["directory"])
            rows = sum(result.counts.values())
            self.stdout.write(f"{account.agency.slug}/{account.name}: {rows} rows -> {result.path}")
