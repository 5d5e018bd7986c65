# Client accounts reach CallRail through a credential (issue 20). Step 2 of 3: each account's own key moves
# into a credential of its agency. Accounts of one agency that held the same key with the same destination
# (authentication and base URL) share one credential, so the budget per key holds for them at once; each
# distinct gateway connection id becomes a connection of its credential (assumed active: it was in use).

from django.db import migrations

DIRECT, GATEWAY = "direct", "gateway"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name[:190], 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{name[:180]} ({n})"
    taken.add(candidate.lower())
    return candidate


def keys_to_credentials(apps, schema_editor):
    ClientAccount = apps.get_model("tenancy", "ClientAccount")
    Credential = apps.get_model("credentials", "Credential")
    GatewayConnection = apps.get_model("credentials", "GatewayConnection")
    groups: dict[tuple, list] = {}
    for account in ClientAccount.objects.filter(credential__isnull=True).order_by("agency_id", "name", "pk"):
        mode = account.auth_mode if account.auth_mode in (DIRECT, GATEWAY) else DIRECT
        destination = (account.base_url or "").strip().rstrip("/")
        groups.setdefault((account.agency_id, mode, destination, account.api_key or ""), []).append(account)
    taken: dict[int, set[str]] = {}
    for (agency_id, mode, destination, api_key), accounts in groups.items():
        names = taken.setdefault(
            agency_id, {n.lower() for n in Credential.objects.filter(agency_id=agency_id).values_list("name", flat=True)}
        )
        first = accounts[0].name
        label = f"{first} key" if len(accounts) == 1 else f"Shared key of {first} and {len(accounts) - 1} more"
        errors = {a.connection_error for a in accounts}
        credential = Credential.objects.create(
            agency_id=agency_id, name=_unique(label, names), auth_mode=mode, api_key=api_key, base_url=destination,
            key_limit_enabled=True, budget_overrides={}, error=errors.pop() if len(errors) == 1 else "",
        )
        connections: dict[str, object] = {}
        for account in accounts:
            connection = None
            connection_id = (account.connection_id or "").strip() if mode == GATEWAY else ""
            if connection_id:
                connection = connections.get(connection_id)
                if connection is None:
                    connection = connections[connection_id] = GatewayConnection.objects.create(
                        credential=credential, connection_id=connection_id, label=account.name, status="ACTIVE"
                    )
            account.credential_id = credential.pk
            account.gateway_connection_id = connection.pk if connection else None
            account.save(update_fields=["credential", "gateway_connection"])


def credentials_to_keys(apps, schema_editor):
    ClientAccount = apps.get_model("tenancy", "ClientAccount")
    for account in ClientAccount.objects.select_related("credential", "gateway_connection"):
        credential = account.credential
        account.auth_mode, account.api_key, account.base_url = credential.auth_mode, credential.api_key, credential.base_url
        account.connection_id = account.gateway_connection.connection_id if account.gateway_connection_id else ""
        account.save(update_fields=["auth_mode", "api_key", "base_url", "connection_id"])


class Migration(migrations.Migration):

    dependencies = [
        ("credentials", "0001_initial"),
        ("tenancy", "0004_clientaccount_credential"),
    ]

    operations = [migrations.RunPython(keys_to_credentials, credentials_to_keys)]
