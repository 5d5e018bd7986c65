import getpass
import os
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.core.validation import validation_message
from apps.tenancy.models import Agency, AuthMode
from apps.tenancy.services import client_account_save

KEY_VARIABLE = "CALLRAIL_API_KEY"


class Command(BaseCommand):
    help = (
        "Add a client account to an agency, or update it (idempotent on agency + account id). "
        f"The API key is read from ${KEY_VARIABLE} or standard input, never from an argument."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--agency", required=True, help="The agency's slug.")
        parser.add_argument("--account-id", required=True, help="The CallRail account id (ACC…).")
        parser.add_argument("--name", required=True)
        parser.add_argument("--auth", choices=[m.value for m in AuthMode], default=AuthMode.DIRECT)
        parser.add_argument("--base-url", default="", help="A CallRail-compatible server, e.g. the sandbox.")
        parser.add_argument("--connection-id", default="", help="Gateway connection id (Maton-Connection).")
        parser.add_argument("--time-zone", default=None)

    def read_key(self) -> str:
        if os.environ.get(KEY_VARIABLE):
            return os.environ[KEY_VARIABLE]
        if sys.stdin.isatty():
            return getpass.getpass("CallRail API key (input hidden): ")
        return sys.stdin.readline()

    def handle(self, *args, **options) -> None:
        agency = Agency.objects.filter(slug=options["agency"]).first()
        if agency is None:
            raise CommandError(f"No agency with slug {options['agency']!r} (create it with create_agency).")
        key = self.read_key().strip()
        existing = agency.client_accounts.filter(callrail_account_id=options["account_id"].strip()).first()
        if not key and not existing:
            raise CommandError(f"No API key: set ${KEY_VARIABLE} or pipe the key on standard input.")
        try:
            account, created = client_account_save(
                agency=agency,
                instance=existing,
                callrail_account_id=options["account_id"],
                name=options["name"],
                auth_mode=options["auth"],
                api_key=key or None,
                base_url=options["base_url"],
                connection_id=options["connection_id"],
                time_zone=options["time_zone"],
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        verb = "Added" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} {account.name} ({account.callrail_account_id}) in {agency.name}"))
