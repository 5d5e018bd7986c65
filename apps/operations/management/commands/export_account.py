"""Write the export of one or more client accounts (the same zip a scheduled deletion writes first)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.operations.services import client_account_export
from apps.tenancy.models import ClientAccount


class Command(BaseCommand):
    help = "Export client accounts' mirrored data: a zip of JSON lines per resource. ACC… ids or portal ids."

    def add_arguments(self, parser) -> None:
        parser.add_argument("accounts", nargs="+", help="CallRail account ids (ACC…) or the portal's account ids")
        parser.add_argument("--agency", help="agency slug, when a CallRail account is connected to several agencies")
        parser.add_argument("--directory", type=Path, help="where to write (default OPERATIONS_EXPORT_DIR)")

    def handle(self, *args, **options) -> None:
        everything = ClientAccount.objects.unscoped(reason="operator-command").select_related("agency")
        if options["agency"]:
            everything = everything.filter(agency__slug=options["agency"])
        for ref in options["accounts"]:
            matches = list(everything.filter(**({"pk": int(ref)} if ref.isdigit() else {"callrail_account_id": ref})))
            if not matches:
                raise CommandError(
                    f"No client account {ref!r}" + (f" in agency {options['agency']!r}." if options["agency"] else ".")
                )
            if len(matches) > 1:
                raise CommandError(f"{ref} is connected to several agencies: name one with --agency.")
            account = matches[0]
            result = client_account_export(account=account, directory=options["directory"])
            rows = sum(result.counts.values())
            self.stdout.write(f"{account.agency.slug}/{account.name}: {rows} rows -> {result.path}")
