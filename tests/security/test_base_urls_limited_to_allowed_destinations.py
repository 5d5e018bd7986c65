"""Issue 16, finding 2 (high): base URLs are limited to the destinations a setting allows.

``CALLRAIL_ALLOWED_BASE_URLS`` (comma-separated URL prefixes; default CallRail's API and the gateway's
``https://`` root) is the one outbound-URL policy (``apps/callrail/destinations.py``): a credential with any
other base URL is refused when entered, and the CallRail client refuses to send a key to one even when such a
row exists (an old account migrated into a credential, a row written by hand).
"""

import pytest
from django.urls import reverse

from apps.callrail.destinations import DestinationRefused, check_base_url, is_allowed
from apps.credentials.models import Credential
from apps.sandbox.seed import DEMO_ACCOUNTS
from apps.tenancy.models import ClientAccount
from tests.sync.conftest import set_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def only_the_sandbox(settings, sandbox):
    settings.CALLRAIL_ALLOWED_BASE_URLS = ["https://api.callrail.com", sandbox.url]


def test_a_base_url_outside_the_allowed_list_is_refused_and_nothing_is_sent(login, tenant, listener, only_the_sandbox):
    response = login(tenant.owner).post(reverse("credentials:create"), {
        "name": "Mine", "auth_mode": "direct", "api_key": "typed-key", "base_url": listener.url,
        "key_limit_enabled": "on",
    })  # fmt: skip
    assert response.status_code == 400
    assert "CALLRAIL_ALLOWED_BASE_URLS" in response.content.decode()
    assert listener.requests == []
    assert not Credential.objects.filter(name="Mine").exists()


def test_a_stored_key_with_a_disallowed_base_url_is_never_sent(login, tenant, sandbox, listener, only_the_sandbox):
    account = tenant.account
    account.callrail_account_id = DEMO_ACCOUNTS[0].account_id
    account.save()
    set_key(account, DEMO_ACCOUNTS[0].api_key, base_url=listener.url)  # e.g. a row from before the policy
    response = login(tenant.owner).post(reverse("portal:account_check", args=[account.pk]), follow=True)
    assert listener.requests == []
    assert "not an allowed CallRail destination" in response.content.decode()
    assert ClientAccount.objects.for_account(account).get().credential.error  # flagged: sync stops


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.callrail.com/v3/a.json", True),
        ("https://API.callrail.com:443/v3/a.json", True),
        ("https://api.callrail.com.evil.example/v3/a.json", False),
        ("http://api.callrail.com/v3/a.json", False),
        ("https://api.callrail.com:8443/v3/a.json", False),
        ("https://user:pw@api.callrail.com/v3/a.json", False),
        ("https://gateway.maton.ai/callrail/v3/a.json", True),
        ("https://gateway.maton.ai.example/callrail/v3/a.json", False),
        ("ftp://api.callrail.com/", False),
        ("https://127.0.0.1/v3/a.json", False),
    ],
)
def test_prefixes_match_scheme_host_port_and_path_exactly(settings, url, allowed):
    settings.CALLRAIL_ALLOWED_BASE_URLS = ["https://api.callrail.com", "https://gateway.maton.ai"]
    assert is_allowed(url) is allowed


def test_a_path_prefix_ends_at_a_segment_and_any_port_needs_a_star(settings):
    settings.CALLRAIL_ALLOWED_BASE_URLS = ["https://proxy.example/callrail", "http://127.0.0.1:*"]
    assert is_allowed("https://proxy.example/callrail/v3/a.json")
    assert not is_allowed("https://proxy.example/callrail-evil/v3/a.json")
    assert is_allowed("http://127.0.0.1:8100/v3/a.json")
    with pytest.raises(DestinationRefused, match="CALLRAIL_ALLOWED_BASE_URLS"):
        check_base_url("http://10.0.0.7:6379")
