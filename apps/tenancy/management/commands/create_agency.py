from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.core.validation import validation_message
from apps.tenancy.services import agency_create


class Command(BaseCommand):
    help = "Create an agency and its owner (idempotent). A new owner is emailed a link to set a password."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="The agency's name; its slug is derived from it.")
        parser.add_argument("--owner-email", required=True, help="The owner's login email.")
        parser.add_argument("--no-invite", action="store_true", help="Do not email the new owner.")

    def handle(self, *args, name: str, owner_email: str, no_invite: bool, **options) -> None:
        try:
            agency, owner, created = agency_create(name=name, owner_email=owner_email, send_invite=not no_invite)
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        verb = "Created" if created else "Agency already exists:"
        self.stdout.write(self.style.SUCCESS(f"{verb} {agency.name} (slug {agency.slug}), owner {owner.email}"))
