from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from apps.core.validation import validation_message
from apps.credentials.management.keys import KEY_HELP, KeyFromEnvironmentCommand
from apps.credentials.models import Credential
from apps.credentials.services import credential_create, credential_replace_key
from apps.tenancy.models import Agency, AuthMode


class Command(KeyFromEnvironmentCommand):
    help = (
        "Add a CallRail credential (a direct API key, or a gateway key) to an agency and print its id. The key is "
        "checked with one request first (unless --no-check). Re-running with the same name replaces the key. "
        + KEY_HELP
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--agency", required=True, help="The agency's slug.")
        parser.add_argument("--name", required=True, help="How your team recognises the key, e.g. 'Agency API key'.")
        parser.add_argument("--auth", choices=[m.value for m in AuthMode], default=AuthMode.DIRECT)
        parser.add_argument("--base-url", default="", help="A CallRail-compatible server (CALLRAIL_ALLOWED_BASE_URLS).")
        parser.add_argument("--no-key-limit", action="store_true", help="Do not hold its accounts to a shared budget.")
        parser.add_argument("--no-check", action="store_true", help="Keep the key without trying it first.")

    def handle(self, *args, **options) -> None:
        agency = Agency.objects.filter(slug=options["agency"]).first()
        if agency is None:
            raise CommandError(f"No agency with slug {options['agency']!r} (create it with create_agency).")
        key = self.read_key()
        existing = Credential.objects.filter(agency=agency, name__iexact=options["name"].strip()).first()
        try:
            if existing is None:
                credential = credential_create(
                    agency=agency, name=options["name"], auth_mode=options["auth"], api_key=key,
                    base_url=options["base_url"], key_limit_enabled=not options["no_key_limit"],
                    check=not options["no_check"],
                )  # fmt: skip
                verb = "Added"
            elif existing.auth_mode != options["auth"]:
                raise CommandError(f"{existing.name} is a {existing.get_auth_mode_display()} credential: add the "
                                   f"{options['auth']} key under another name.")  # fmt: skip
            elif existing.api_key == key and existing.base_url == options["base_url"].strip().rstrip("/"):
                credential, verb = existing, "Unchanged"
            else:
                credential = credential_replace_key(credential=existing, api_key=key, base_url=options["base_url"],
                                                    check=not options["no_check"])  # fmt: skip
                verb = "Replaced the key of"
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        self.stderr.write(f"{verb} {credential.name} ({credential.get_auth_mode_display()}, "
                          f"{credential.effective_base_url}) in {agency.name}; its id:")  # fmt: skip
        self.stdout.write(str(credential.pk))
