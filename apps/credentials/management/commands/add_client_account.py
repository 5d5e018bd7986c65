from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import transaction

from apps.core.validation import validation_message
from apps.credentials.management.keys import KEY_HELP, KeyFromEnvironmentCommand
from apps.credentials.models import ConnectionStatus, Credential, GatewayConnection
from apps.credentials.services import ImportChoice, accounts_import, client_account_update, credential_create
from apps.tenancy.models import Agency, AuthMode, ClientAccount


class Command(KeyFromEnvironmentCommand):
    help = (
        "Add one client account to an agency, or update it (idempotent on agency + account id), through the "
        "agency's credential holding the same key (created when there is none). The account is read from "
        "CallRail once first (unless --no-check); nothing is kept when CallRail refuses. " + KEY_HELP
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--agency", required=True, help="The agency's slug.")
        parser.add_argument("--account-id", required=True, help="The CallRail account id (ACC…).")
        parser.add_argument("--name", required=True)
        parser.add_argument("--auth", choices=[m.value for m in AuthMode], default=AuthMode.DIRECT)
        parser.add_argument("--base-url", default="", help="A CallRail-compatible server (CALLRAIL_ALLOWED_BASE_URLS).")
        parser.add_argument("--connection-id", default="", help="Gateway connection id (Maton-Connection).")
        parser.add_argument("--time-zone", default="", help="Default: the account's first company's, from CallRail.")
        parser.add_argument("--no-check", action="store_true", help="Do not read the account from CallRail first.")

    def handle(self, *args, **options) -> None:
        agency = Agency.objects.filter(slug=options["agency"]).first()
        if agency is None:
            raise CommandError(f"No agency with slug {options['agency']!r} (create it with create_agency).")
        account_id = options["account_id"].strip()
        existing = ClientAccount.objects.unscoped(reason="operator-command").filter(
            agency=agency, callrail_account_id=account_id
        ).select_related("credential").first()
        key = self.read_key(required=existing is None)
        check = not options["no_check"]
        try:
            with transaction.atomic():
                credential = self._credential(agency, key, options, fallback=existing)
                connection = self._connection(credential, options["connection_id"])
                if existing is None:
                    choice = ImportChoice(account_id, options["name"], options["time_zone"], connection)
                    account = accounts_import(credential=credential, choices=[choice], check=check).accounts[0]
                    verb = "Added"
                else:
                    account = client_account_update(
                        account=existing, name=options["name"], time_zone=options["time_zone"] or None,
                        credential=credential, gateway_connection=connection or existing.gateway_connection,
                        check=check,
                    )  # fmt: skip
                    verb = "Updated"
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        self.stdout.write(self.style.SUCCESS(
            f"{verb} {account.name} ({account.callrail_account_id}) in {agency.name}, through the credential "
            f"“{credential.name}” (#{credential.pk})"
        ))  # fmt: skip

    @staticmethod
    def _credential(agency: Agency, key: str, options: dict, *, fallback: ClientAccount | None) -> Credential:
        """The agency's credential with this key and destination, or a new one (checked with the account)."""
        if not key:
            return fallback.credential
        base_url = options["base_url"].strip().rstrip("/")
        for credential in agency.credentials.filter(auth_mode=options["auth"], base_url=base_url):
            if credential.api_key == key:
                return credential
        name, n = f"{options['name'].strip()} key", 1
        while agency.credentials.filter(name__iexact=name).exists():
            n += 1
            name = f"{options['name'].strip()} key ({n})"
        # Checked through the account below: one request for both.
        return credential_create(agency=agency, name=name, auth_mode=options["auth"], api_key=key, base_url=base_url,
                                 check=False)  # fmt: skip

    @staticmethod
    def _connection(credential: Credential, connection_id: str) -> GatewayConnection | None:
        connection_id = connection_id.strip()
        if not connection_id or not credential.is_gateway:
            return None
        connection, _ = GatewayConnection.objects.get_or_create(
            credential=credential, connection_id=connection_id,
            defaults={"status": ConnectionStatus.ACTIVE, "label": "entered by hand"},
        )  # fmt: skip
        return connection
