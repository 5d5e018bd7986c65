from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.callrail.errors import CallRailError
from apps.core.validation import validation_message
from apps.credentials.models import Credential
from apps.credentials.services import ImportChoice, accounts_import, credential_reachable_accounts


class Command(BaseCommand):
    help = (
        "List the CallRail accounts a credential reaches (--list), or import them (--all, or --account ACC… ) in one "
        "step: every chosen account or none, each with its time zone, its first full sync queued."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--credential", required=True, type=int, help="Its id (add_credential prints it).")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--list", action="store_true", help="Only list the accounts and where they are connected.")
        which.add_argument("--all", action="store_true", help="Import every account not connected yet.")
        which.add_argument("--account", nargs="+", metavar="ACC", help="Import these accounts.")
        parser.add_argument("--connection", default="", help="Gateway credentials: only this connection id.")
        parser.add_argument("--no-sync", action="store_true", help="Do not queue the first sync.")

    def handle(self, *args, **options) -> None:
        credential = Credential.objects.select_related("agency").filter(pk=options["credential"]).first()
        if credential is None:
            raise CommandError(f"No credential #{options['credential']} (add_credential prints the id).")
        connection = None
        if options["connection"]:
            connection = credential.connections.filter(connection_id=options["connection"]).first()
            if connection is None:
                raise CommandError(f"{credential.name} has no connection {options['connection']!r}.")
        try:
            reachable = credential_reachable_accounts(credential=credential, connection=connection)
        except CallRailError as exc:
            raise CommandError(f"{credential.name}: {exc.public_message}") from None
        if not reachable:
            raise CommandError(f"{credential.name} reaches no CallRail account: use the key of a CallRail user with "
                               "access to the client accounts.")  # fmt: skip
        if options["list"]:
            for account in reachable:
                where = f"connected as “{account.existing.name}”" if account.existing else "not connected"
                self.stdout.write(f"{account.callrail_account_id}  {account.name}  ({where})")
            return
        by_id = {a.callrail_account_id: a for a in reachable}
        if options["all"]:
            chosen = [a for a in reachable if a.importable]
            if not chosen:
                self.stdout.write(f"Every account {credential.name} reaches is connected already; nothing to import.")
                return
        else:
            unknown = [acc for acc in options["account"] if acc not in by_id]
            if unknown:
                raise CommandError(f"{credential.name} does not reach {', '.join(unknown)}; nothing was imported "
                                   "(--list shows what it reaches).")  # fmt: skip
            chosen = [by_id[acc] for acc in dict.fromkeys(options["account"])]
        choices = [ImportChoice(a.callrail_account_id, a.name, connection=a.connection) for a in chosen]
        try:
            result = accounts_import(credential=credential, choices=choices, start_sync=not options["no_sync"])
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        for account in result.accounts:
            self.stdout.write(f"Imported {account.name} ({account.callrail_account_id}), time zone {account.time_zone}")
        synced = "; first syncs queued" if not options["no_sync"] else ""
        self.stdout.write(self.style.SUCCESS(f"{len(result.accounts)} account(s) imported into "
                                             f"{credential.agency.name}{synced}."))  # fmt: skip
