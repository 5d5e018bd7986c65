"""Issue 16, finding 2 (high): "Test connection" worked as a port scanner of the portal's network.

Its error text said what answered on the other side ("Connection refused", "not JSON ('<html>…')", the status
line): pointing a base URL at host:port after host:port mapped the network. Now a person is told what
happened in the portal's own words — the same words whatever answered — and operators find the detail in the
logs.
"""

import socket

import pytest
from django.urls import reverse

from apps.sandbox.seed import DEMO_ACCOUNTS
from tests.sync.conftest import set_key

pytestmark = pytest.mark.django_db

SECRET_BANNER = "SSH-2.0-OpenSSH_9.6 internal-db.corp password=hunter2"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_message(client, account, base_url: str) -> str:
    set_key(account, DEMO_ACCOUNTS[0].api_key, base_url=base_url)
    response = client.post(reverse("portal:account_check", args=[account.pk]), follow=True)
    return str(next(iter(response.context["messages"])))


def test_every_kind_of_other_side_gets_the_same_answer(login, tenant, listener, settings):
    settings.CALLRAIL_MAX_RETRIES = 0
    client = login(tenant.owner)
    port = closed_port()
    nothing = check_message(client, tenant.account, f"http://127.0.0.1:{port}")
    listener.status, listener.content_type, listener.body = 200, "text/plain", SECRET_BANNER.encode()
    banner = check_message(client, tenant.account, listener.url)
    listener.status, listener.body = 502, b"upstream db-7:5432 timed out"
    failing = check_message(client, tenant.account, listener.url)
    assert nothing == banner == failing
    for revealing in (str(port), "refused", "OpenSSH", "hunter2", "db-7", "502", "200", "not JSON", "Errno"):
        assert revealing not in nothing
    assert "Nothing was changed" in nothing
