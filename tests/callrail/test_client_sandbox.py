"""The client against the CallRail sandbox over HTTP, with real Redis budgets: both kinds of pagination,
every typed error, retries on injected faults, and a 429 that stops every worker of the account."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from apps.callrail.budget import Budget
from apps.callrail.client import client_for_account
from apps.callrail.errors import (
    AuthFailed,
    BudgetExhausted,
    CallRailError,
    Forbidden,
    NotFound,
    Permanent,
    RateLimited,
    Transient,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from apps.sandbox.seed import DEMO_ACCOUNTS, REPORTING_KEY

from .conftest import ToyAccount

DEMO = DEMO_ACCOUNTS[0]
CTX = multiprocessing.get_context("fork")


@pytest.fixture
def big_sandbox(sandbox):
    """The sandbox with several hundred calls in the first account."""
    sandbox.reset(calls_per_account=600)
    return sandbox


def account_for(sandbox, pk: int = 701, **changes) -> ToyAccount:
    fields = {"pk": pk, "callrail_account_id": DEMO.account_id, "api_key": DEMO.api_key, "base_url": sandbox.url}
    return ToyAccount(**{**fields, **changes})


@pytest.fixture
def budget(make_budget):
    return make_budget(time_scale=1)


def usage(sandbox, rate_class: str = "general") -> dict:
    return sandbox.state.usage(DEMO.account_id)[DEMO.account_id][rate_class]


def api_requests(sandbox) -> list[dict]:
    return sandbox.state.request_log(DEMO.account_id)


# ------------------------------------------------------------------------------------------------ pagination
def test_offset_pagination_over_several_hundred_records(big_sandbox, budget):
    client = client_for_account(account_for(big_sandbox), budget=budget)
    pages = list(client.paginate("calls.json", per_page=100))
    total = pages[0].total_records
    assert total >= 300
    assert len(pages) == pages[0].total_pages == -(-total // 100)
    ids = [r["id"] for p in pages for r in p.records]
    assert len(ids) == len(set(ids)) == total
    assert [p.page for p in pages] == list(range(1, len(pages) + 1))
    # One budget token per page, and the sandbox saw exactly those requests.
    assert budget.status(701).general.hour_spent == len(pages)
    assert usage(big_sandbox)["accepted"] == len(pages)


def test_offset_pagination_asks_for_250_a_page_by_default(big_sandbox, budget):
    client = client_for_account(account_for(big_sandbox), budget=budget)
    pages = list(client.paginate("calls.json"))
    assert pages[0].per_page == 250
    assert len(pages) == -(-pages[0].total_records // 250)
    assert sum(len(p.records) for p in pages) == pages[0].total_records


def test_relative_pagination_of_calls_yields_the_same_records(big_sandbox, budget):
    client = client_for_account(account_for(big_sandbox), budget=budget)
    offset_ids = {r["id"] for r in client.iter_records("calls.json", per_page=100)}
    pages = list(client.paginate_relative("calls.json", per_page=100))
    relative_ids = [r["id"] for p in pages for r in p.records]
    assert len(relative_ids) == len(set(relative_ids)) == len(offset_ids)
    assert set(relative_ids) == offset_ids
    assert [p.has_next_page for p in pages] == [True] * (len(pages) - 1) + [False]
    assert len(pages) == -(-len(offset_ids) // 100)
    # Every page after the first followed next_page exactly as the sandbox wrote it.
    log = api_requests(big_sandbox)
    assert all(r["path"].endswith("/calls.json") for r in log)


def test_field_selection(big_sandbox, budget):
    client = client_for_account(account_for(big_sandbox), budget=budget)
    call = next(client.iter_records("calls.json", per_page=5, fields=["company_name", "tags"]))
    assert "company_name" in call
    assert "tags" in call
    plain = next(client.iter_records("calls.json", per_page=5))
    assert "company_name" not in plain


def test_gateway_mode(sandbox, budget):
    account = account_for(sandbox, auth_mode="gateway", api_key=DEMO.gateway_key, connection_id=DEMO.connection_id)
    client = client_for_account(account, budget=budget)
    companies = list(client.iter_records("companies.json"))
    assert companies
    assert all(c["id"].startswith("COM") for c in companies)
    assert api_requests(sandbox)[-1]["path"].startswith("/callrail/v3/")


# ------------------------------------------------------------------------------------------------ typed errors
def test_wrong_key_is_unauthorized_with_a_clear_message(sandbox, budget):
    client = client_for_account(account_for(sandbox, api_key="not-the-key"), budget=budget)
    with pytest.raises(Unauthorized) as info:
        client.get("companies.json")
    err = info.value
    assert isinstance(err, AuthFailed)
    assert isinstance(err, Permanent)
    assert not err.transient
    assert f"CallRail rejected the key for account {DEMO.account_id}" in str(err)
    assert err.status == 401
    assert "not-the-key" not in str(err)


def test_gateway_wrong_key_is_unauthorized(sandbox, budget):
    account = account_for(sandbox, auth_mode="gateway", api_key="nope", connection_id=DEMO.connection_id)
    with pytest.raises(Unauthorized, match="through the gateway"):
        client_for_account(account, budget=budget).get("companies.json")


def test_forbidden(sandbox, budget):
    client = client_for_account(account_for(sandbox, api_key=REPORTING_KEY), budget=budget)
    with pytest.raises(Forbidden, match="permission") as info:
        client.post("companies.json", json={"name": "Not allowed"})
    assert info.value.status == 403


def test_not_found(sandbox, budget):
    client = client_for_account(account_for(sandbox), budget=budget)
    with pytest.raises(NotFound, match="not found") as info:
        client.get("companies/COM00000000000000000000000000000000.json")
    assert info.value.path.endswith("/companies/COM00000000000000000000000000000000.json")


def test_validation_failed_carries_callrails_message(sandbox, budget):
    client = client_for_account(account_for(sandbox), budget=budget)
    with pytest.raises(ValidationFailed) as info:
        client.post("tags.json", json={})
    assert info.value.message == "Missing required parameter: name"
    assert info.value.errors == {"error": "Missing required parameter: name"}


def test_unavailable_after_bounded_retries(sandbox, budget):
    sandbox.state.faults.configure(error_503=1.0)
    client = client_for_account(account_for(sandbox), budget=budget, max_retries=2, backoff_base=0.01)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="503") as info:
        client.get("companies.json")
    assert isinstance(info.value, Transient)
    assert time.monotonic() - started < 2
    assert sandbox.state.faults.counts["503"] == 3
    assert budget.status(701).general.hour_spent == 3  # a retry takes a token too


def test_every_error_is_a_callrail_error():
    for cls in (Unauthorized, Forbidden, NotFound, ValidationFailed, RateLimited, Unavailable, BudgetExhausted):
        assert issubclass(cls, CallRailError)
    assert issubclass(RateLimited, Transient)
    assert issubclass(BudgetExhausted, Transient)


# ------------------------------------------------------------------------------------------------ retries
def test_injected_500s_are_retried_until_success(sandbox, budget):
    sandbox.state.faults.configure(script=["500", "500"])
    client = client_for_account(account_for(sandbox), budget=budget, max_retries=3, backoff_base=0.01)
    body = client.get("companies.json")
    assert body["companies"]
    assert sandbox.state.faults.counts["500"] == 2
    statuses = [r["status"] for r in sandbox.state.request_log() if "/companies.json" in r["path"]]
    assert statuses == [500, 500, 200]
    assert budget.status(701).general.hour_spent == 3


def test_dropped_connections_are_retried(sandbox, budget):
    sandbox.state.faults.configure(script=["drop"])
    client = client_for_account(account_for(sandbox), budget=budget, backoff_base=0.01)
    assert client.get("companies.json")["companies"]
    assert sandbox.state.faults.counts["drop"] == 1


def test_a_share_of_500s_through_a_whole_pagination(big_sandbox, budget):
    big_sandbox.state.faults.configure(error_500=0.3, seed=7)
    client = client_for_account(account_for(big_sandbox), budget=budget, max_retries=6, backoff_base=0.005)
    ids = [r["id"] for r in client.iter_records("calls.json", per_page=50)]
    assert len(ids) == len(set(ids)) >= 300
    assert big_sandbox.state.faults.counts["500"] > 0


def test_post_is_not_retried_after_a_500(sandbox, budget):
    sandbox.state.faults.configure(script=["500"])
    client = client_for_account(account_for(sandbox), budget=budget, backoff_base=0.01)
    with pytest.raises(Unavailable):
        client.post("tags.json", json={"name": "Once only"})
    assert [r["status"] for r in sandbox.state.request_log() if r["method"] == "POST"] == [500]


# ------------------------------------------------------------------------------------------------ lanes
def test_interactive_client_works_while_background_is_refused(sandbox, budget):
    overrides = {"general": {"hour": 10, "day": 1000}}  # ceiling 9: background 6 (paced: 6), interactive 9
    background = client_for_account(account_for(sandbox, budget_overrides=overrides), budget=budget)
    person = client_for_account(account_for(sandbox, budget_overrides=overrides), lane="interactive", budget=budget)
    for _ in range(6):
        background.get("companies.json")
    with pytest.raises(BudgetExhausted) as info:
        background.get("companies.json")
    assert info.value.retry_after > 0
    for _ in range(3):
        person.get("companies.json")
    with pytest.raises(BudgetExhausted):
        person.get("companies.json")
    assert usage(sandbox)["accepted"] == 9


# ------------------------------------------------------------------------------------------------ 429
def _hammer(namespace: str, sandbox_url: str, seconds: float, results) -> None:
    budget = Budget(namespace=namespace, time_scale=1)
    client = client_for_account(
        ToyAccount(pk=777, callrail_account_id=DEMO.account_id, api_key=DEMO.api_key, base_url=sandbox_url),
        budget=budget,
    )
    ok = limited = exhausted = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            client.get("companies.json")
            ok += 1
        except RateLimited:
            limited += 1
        except BudgetExhausted:
            exhausted += 1
            time.sleep(0.01)
    results.put((ok, limited, exhausted))


def test_a_429_from_callrail_stops_every_worker_of_the_account(sandbox, budget, budget_namespace):
    """Another client of the account has spent most of its allowance: CallRail answers 429 long before our
    budget runs out. The first 429 must stop all eight worker processes; they keep being refused by the
    budget without sending anything."""
    sandbox.state.ratelimiter.configure({"general": {"hour": 40}}, DEMO.account_id)
    results = CTX.Queue()
    workers = [CTX.Process(target=_hammer, args=(budget_namespace, sandbox.url, 1.5, results)) for _ in range(8)]
    for w in workers:
        w.start()
    out = [results.get(timeout=30) for _ in workers]
    for w in workers:
        w.join(timeout=10)
    assert sum(ok for ok, _, _ in out) == 40
    refused_by_callrail = usage(sandbox)["rejected"]
    assert sum(limited for _, limited, _ in out) == refused_by_callrail
    # At most the requests already in flight when the first 429 arrived (one per worker) got a 429.
    assert 1 <= refused_by_callrail <= len(workers)
    assert all(exhausted > 0 for _, _, exhausted in out), "every worker was held back by the shared budget"
    status = budget.status(777)
    assert status.blocked_until is not None
    assert status.rate_limited_day >= 1
    # Nothing more reached the sandbox after the block.
    log = api_requests(sandbox)
    first_429 = min(i for i, r in enumerate(log) if r["status"] == 429)
    assert len(log) - first_429 <= len(workers)
