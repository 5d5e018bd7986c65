"""Client behaviour on the wire, against a scripted loopback HTTP server: what the sandbox cannot be asked
to answer (bodies that are not JSON, redirects, missing pagination fields, slow answers) and exactly what
goes out (headers, paths, tokens taken per attempt)."""

from __future__ import annotations

import logging

import pytest

from apps.callrail.client import CallRailClient, client_for_account
from apps.callrail.errors import (
    BudgetExhausted,
    MalformedResponse,
    Permanent,
    Transient,
    Unavailable,
    ValidationFailed,
)

from .conftest import ToyAccount, free_port
from .stub_server import Reply, StubServer

ACC = "ACC" + "0" * 31 + "1"


@pytest.fixture
def stub():
    server = StubServer()
    yield server
    server.stop()


@pytest.fixture
def budget(make_budget):
    return make_budget(time_scale=1)


def make_client(stub, budget, **kwargs) -> CallRailClient:
    account = ToyAccount(pk=kwargs.pop("pk", 901), callrail_account_id=ACC, api_key="sekret-key",
                         base_url=stub.url if stub else kwargs.pop("base_url"),
                         auth_mode=kwargs.pop("auth_mode", "direct"),
                         connection_id=kwargs.pop("connection_id", ""))  # fmt: skip
    kwargs.setdefault("backoff_base", 0.01)
    return client_for_account(account, budget=budget, **kwargs)


def spent(budget, pk=901) -> int:
    return budget.status(pk).general.hour_spent


def test_direct_auth_header_and_path(stub, budget):
    stub.handler = lambda seen: Reply(200, {"id": ACC})
    client = make_client(stub, budget)
    assert client.get("/a/" + ACC + ".json") == {"id": ACC}
    client.get("companies.json", fields=["id", "name"])
    first, second = stub.seen
    assert first.path == f"/v3/a/{ACC}.json"
    assert first.headers["Authorization"] == 'Token token="sekret-key"'
    assert "Maton-Connection" not in first.headers
    assert second.path == f"/v3/a/{ACC}/companies.json"
    assert second.query["fields"] == ["id,name"]


def test_gateway_auth_header_connection_and_path(stub, budget):
    stub.handler = lambda seen: Reply(200, {"accounts": []})
    client = make_client(stub, budget, auth_mode="gateway", connection_id="conn-123")
    client.get("/a.json")
    (seen,) = stub.seen
    assert seen.path == "/callrail/v3/a.json"
    assert seen.headers["Authorization"] == "Bearer sekret-key"
    assert seen.headers["Maton-Connection"] == "conn-123"


def test_body_that_is_not_json_is_a_typed_error_naming_account_and_path(stub, budget):
    stub.handler = lambda seen: Reply(200, "<html>Maintenance</html>")
    client = make_client(stub, budget)
    with pytest.raises(MalformedResponse) as info:
        client.get("companies.json")
    err = info.value
    assert isinstance(err, Permanent)
    assert err.account == ACC
    assert err.path == f"/v3/a/{ACC}/companies.json"
    assert ACC in str(err)
    assert "companies.json" in str(err)


def test_redirects_are_not_followed(stub, budget):
    stub.handler = lambda seen: Reply(301, "", {"Location": "https://elsewhere.example/v3/a.json"})
    client = make_client(stub, budget)
    with pytest.raises(MalformedResponse, match=r"redirect to https://elsewhere\.example"):
        client.get("/a.json")
    assert len(stub.seen) == 1


def test_offset_page_without_pagination_fields_is_malformed(stub, budget):
    stub.handler = lambda seen: Reply(200, {"companies": [{"id": "COM1"}]})
    client = make_client(stub, budget)
    with pytest.raises(MalformedResponse, match="total_pages") as info:
        list(client.iter_records("companies.json"))
    assert info.value.account == ACC


def test_list_key_missing_is_malformed(stub, budget):
    stub.handler = lambda seen: Reply(200, {"page": 1, "per_page": 250, "total_pages": 1, "total_records": 0})
    client = make_client(stub, budget)
    with pytest.raises(MalformedResponse, match="list key"):
        list(client.iter_records("companies.json"))


def test_relative_next_page_is_re_rooted_on_our_base_and_sent_unmodified(stub, budget):
    """next_page names CallRail's host; the client keeps its path and query but never sends the key elsewhere."""
    foreign = f"https://api.callrail.com/v3/a/{ACC}/calls.json?offset=1&per_page=2&relative_pagination=true&x=%5B%5D"

    def handler(seen):
        if "offset" not in seen.query:
            return Reply(200, {"calls": [{"id": "CAL1"}, {"id": "CAL2"}], "has_next_page": True, "next_page": foreign})
        return Reply(200, {"calls": [{"id": "CAL3"}], "has_next_page": False, "next_page": None})

    stub.handler = handler
    client = make_client(stub, budget)
    ids = [c["id"] for c in client.iter_records_relative("calls.json", per_page=2)]
    assert ids == ["CAL1", "CAL2", "CAL3"]
    first, second = stub.seen
    assert first.query["relative_pagination"] == ["true"]
    assert first.query["per_page"] == ["2"]
    assert second.path == f"/v3/a/{ACC}/calls.json"
    assert second.query == {"offset": ["1"], "per_page": ["2"], "relative_pagination": ["true"], "x": ["[]"]}
    assert second.headers["Authorization"] == 'Token token="sekret-key"'


def test_relative_has_next_without_next_page_is_malformed(stub, budget):
    stub.handler = lambda seen: Reply(200, {"calls": [], "has_next_page": True})
    with pytest.raises(MalformedResponse, match="next_page"):
        list(make_client(stub, budget).paginate_relative())


def test_read_timeout_is_retried_then_unavailable_and_every_attempt_takes_a_token(stub, budget):
    stub.handler = lambda seen: Reply(200, {"ok": True}, delay=0.6)
    client = make_client(stub, budget, timeout=0.2, max_retries=2)
    with pytest.raises(Unavailable, match="ReadTimeout") as info:
        client.get("companies.json")
    assert isinstance(info.value, Transient)
    assert len(stub.seen) == 3
    assert spent(budget) == 3


def test_connection_refused_is_retried_even_for_post(budget):
    """Nothing was sent, so even a POST is safe to retry."""
    client = make_client(None, budget, base_url=f"http://127.0.0.1:{free_port()}", max_retries=2)
    with pytest.raises(Unavailable, match="could not be reached"):
        client.post("tags.json", json={"name": "x"})
    assert spent(budget) == 3


def test_post_500_is_not_retried_but_get_500_is(stub, budget):
    stub.handler = lambda seen: Reply(500, {"error": "boom"})
    client = make_client(stub, budget, max_retries=2)
    with pytest.raises(Unavailable):
        client.post("tags.json", json={"name": "x"})
    assert len(stub.seen) == 1
    with pytest.raises(Unavailable, match="after 3 attempts"):
        client.get("tags.json")
    assert len(stub.seen) == 4


def test_no_budget_means_nothing_is_sent(stub, budget):
    stub.handler = lambda seen: Reply(200, {"ok": True})
    budget.mark_exhausted(901, retry_after=30)
    client = make_client(stub, budget)
    with pytest.raises(BudgetExhausted) as info:
        client.get("companies.json")
    assert 29 < info.value.retry_after <= 30
    assert info.value.lane == "background"
    assert stub.seen == []


def test_validation_message_from_errors_dict(stub, budget):
    stub.handler = lambda seen: Reply(422, {"errors": {"name": ["has already been taken"]}})
    with pytest.raises(ValidationFailed, match="name has already been taken") as info:
        make_client(stub, budget).post("tags.json", json={"name": "dup"})
    assert info.value.errors == {"errors": {"name": ["has already been taken"]}}
    assert info.value.status == 422


def test_limit_class_of_sms_send_and_outbound_call(stub, budget):
    stub.handler = lambda seen: Reply(200, {"ok": True})
    client = make_client(stub, budget)
    client.post("text-messages.json", json={"content": "hi"})
    client.post("calls.json", json={"customer_phone_number": "+15555550100"})
    client.get("text-messages.json")
    by_class = {c.limit_class: c.hour_spent for c in budget.status(901).classes}
    assert by_class == {"general": 3, "sms_send": 1, "outbound_call": 1}


def test_every_request_is_logged_with_account_method_path_status_duration(stub, budget, caplog):
    stub.handler = lambda seen: Reply(404, {"error": "Record not found"})
    client = make_client(stub, budget)
    with caplog.at_level(logging.INFO, logger="apps.callrail.client"), pytest.raises(Permanent):
        client.get("companies/COM1.json")
    (record,) = [r for r in caplog.records if r.name == "apps.callrail.client"]
    message = record.getMessage()
    for part in ("GET", f"/v3/a/{ACC}/companies/COM1.json", ACC, "status=404", "duration="):
        assert part in message
    assert record.http_status == 404
    assert record.client_account_id == 901
    assert record.duration_ms >= 0
    assert "sekret-key" not in message


@pytest.mark.parametrize(
    ("base_url", "auth_mode", "path", "expected"),
    [
        ("https://api.callrail.com", "direct", "calls.json", f"https://api.callrail.com/v3/a/{ACC}/calls.json"),
        ("https://api.callrail.com/", "direct", "/a.json", "https://api.callrail.com/v3/a.json"),
        ("https://api.callrail.com", "direct", "/v3/a.json", "https://api.callrail.com/v3/a.json"),
        ("https://gateway.maton.ai", "gateway", "tags.json", f"https://gateway.maton.ai/callrail/v3/a/{ACC}/tags.json"),
        # next_page URLs: path and query kept, host always ours
        ("http://127.0.0.1:8100", "direct", "https://api.callrail.com/v3/a/1/calls.json?offset=2",
         "http://127.0.0.1:8100/v3/a/1/calls.json?offset=2"),
        ("https://gateway.maton.ai", "gateway", "https://gateway.maton.ai/callrail/v3/a/1/calls.json?offset=2",
         "https://gateway.maton.ai/callrail/v3/a/1/calls.json?offset=2"),
        ("https://gateway.maton.ai", "gateway", "https://api.callrail.com/v3/a/1/calls.json?offset=2",
         "https://gateway.maton.ai/callrail/v3/a/1/calls.json?offset=2"),
        ("http://proxy.local/crm", "direct", "http://proxy.local/crm/v3/a/1/calls.json?offset=2",
         "http://proxy.local/crm/v3/a/1/calls.json?offset=2"),
    ],
)  # fmt: skip
def test_url_building(budget, base_url, auth_mode, path, expected):
    client = CallRailClient(
        account_key=1, callrail_account_id=ACC, api_key="k", auth_mode=auth_mode, base_url=base_url, budget=budget
    )
    assert client.url(path) == expected


def test_account_without_base_url_goes_to_callrail_or_the_gateway(budget):
    direct = client_for_account(ToyAccount(pk=1, callrail_account_id=ACC, api_key="k", base_url=""), budget=budget)
    assert direct.root == "https://api.callrail.com"
    gateway = client_for_account(
        ToyAccount(pk=1, callrail_account_id=ACC, api_key="k", base_url="", auth_mode="gateway"), budget=budget
    )
    assert gateway.root == "https://gateway.maton.ai/callrail"


def test_the_environments_proxy_settings_count_and_are_read_once_per_session(stub, budget, monkeypatch):
    """HTTP(S)_PROXY and NO_PROXY work as requests reads them, resolved when an account's session is made
    (not rescanned at every request)."""
    stub.handler = lambda seen: Reply(200, {"id": ACC})
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", stub.url)
    origin = f"http://localhost:{free_port()}"  # nothing listens there: only the proxy (the stub) answers
    client = make_client(None, budget, base_url=origin, pk=9301, max_retries=0)
    assert client.get(f"/a/{ACC}.json") == {"id": ACC}
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # changed after the session was made
    assert client.get(f"/a/{ACC}.json") == {"id": ACC}
    assert [s.path for s in stub.seen] == [f"/v3/a/{ACC}.json"] * 2
    assert stub.seen[0].headers["Authorization"] == 'Token token="sekret-key"'

    monkeypatch.setenv("HTTP_PROXY", stub.url)
    monkeypatch.setenv("NO_PROXY", "localhost")
    direct = make_client(None, budget, base_url=origin, pk=9302, max_retries=0)
    with pytest.raises(Unavailable, match="could not be reached"):
        direct.get(f"/a/{ACC}.json")
    assert len(stub.seen) == 2
