"""The data migration moves every client account's own key into a credential of its agency: accounts of one
agency that held the same key and destination share one credential (so the budget per key holds for them at
once), each distinct gateway connection id becomes a connection, and nothing else changes."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("tenancy", "0003_data_lifecycle"), ("credentials", None)]
AFTER = [("tenancy", "0005_clientaccount_key_moved_to_credential"), ("credentials", "0002_keys_from_client_accounts")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    nodes = [target for target in targets if target[1] is not None]
    return MigrationExecutor(connection).loader.project_state(nodes).apps


@pytest.fixture(autouse=True)
def back_to_the_latest():
    """Leave the database at the latest migrations (later migrations than AFTER exist), for the next tests."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_keys_move_into_shared_credentials_and_connections():
    old = migrate(BEFORE)
    Agency = old.get_model("tenancy", "Agency")
    ClientAccount = old.get_model("tenancy", "ClientAccount")
    north = Agency.objects.create(name="North", slug="north")
    south = Agency.objects.create(name="South", slug="south")

    def account(agency, n, **fields):
        return ClientAccount.objects.create(agency=agency, name=f"Client {n}", callrail_account_id=f"ACC{n:032x}",
                                            time_zone="UTC", **fields).pk  # fmt: skip

    shared = [account(north, n, api_key="agency-key", base_url="https://api.callrail.com/") for n in (1, 2)]
    own = account(north, 3, api_key="own-key", connection_error="CallRail refused the key")
    elsewhere = account(south, 4, api_key="agency-key")  # same key, another agency: its own credential
    gateway = [account(north, n, auth_mode="gateway", api_key="gw-key", connection_id=c)
               for n, c in ((5, "conn-a"), (6, "conn-a"), (7, "conn-b"), (8, ""))]  # fmt: skip

    new = migrate(AFTER)
    Account = new.get_model("tenancy", "ClientAccount")
    Credential = new.get_model("credentials", "Credential")
    rows = {a.pk: a for a in Account.objects.select_related("credential", "gateway_connection")}
    assert rows[shared[0]].credential_id == rows[shared[1]].credential_id
    assert rows[shared[0]].credential.name == "Shared key of Client 1 and 1 more"
    assert rows[shared[0]].credential.api_key == "agency-key"  # still encrypted at rest, readable
    assert rows[shared[0]].credential.base_url == "https://api.callrail.com"
    assert rows[shared[0]].credential.key_limit_enabled
    assert rows[own].credential.name == "Client 3 key"
    assert rows[own].credential.error == "CallRail refused the key"
    assert rows[own].connection_error == "CallRail refused the key"
    assert rows[elsewhere].credential.agency_id == south.pk
    assert rows[elsewhere].credential_id != rows[shared[0]].credential_id
    assert len({rows[pk].credential_id for pk in gateway}) == 1
    gw = rows[gateway[0]].credential
    assert (gw.auth_mode, gw.api_key) == ("gateway", "gw-key")
    connections = {rows[pk].gateway_connection.connection_id if rows[pk].gateway_connection else "" for pk in gateway}
    assert connections == {"conn-a", "conn-b", ""}
    assert rows[gateway[0]].gateway_connection_id == rows[gateway[1]].gateway_connection_id
    assert Credential.objects.count() == 4
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM credentials_credential")
        assert all("key" not in value for (value,) in cursor.fetchall())  # encrypted
