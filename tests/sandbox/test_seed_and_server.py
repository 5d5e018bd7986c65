"""Seed determinism and realism, the demo accounts, the control plane, and the ways to start the sandbox."""

import json
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from apps.sandbox.seed import AGENCY_KEY, DEMO_ACCOUNTS, GATEWAY_KEY, REPORTING_KEY
from apps.sandbox.server import start_sandbox
from apps.sandbox.state import SandboxState

ROOT = Path(__file__).resolve().parents[2]
ANCHOR = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_demo_accounts_shape():
    assert len(DEMO_ACCOUNTS) == 4
    for demo in DEMO_ACCOUNTS:
        assert re.fullmatch(r"ACC[0-9a-f]{32}", demo.account_id)
        assert re.fullmatch(r"[0-9a-f]{32}", demo.api_key)
        assert demo.gateway_key == GATEWAY_KEY
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", demo.connection_id)
        assert demo.token_headers() == {"Authorization": f'Token token="{demo.api_key}"'}
        assert demo.gateway_headers()["Maton-Connection"] == demo.connection_id
        assert set(demo.as_dict()) == {"account_id", "numeric_id", "name", "time_zone", "api_key", "gateway_key",
                                       "connection_id"}
    keys = [d.api_key for d in DEMO_ACCOUNTS] + [GATEWAY_KEY, AGENCY_KEY, REPORTING_KEY]
    assert len(set(keys)) == len(keys)
    assert len({d.connection_id for d in DEMO_ACCOUNTS}) == 4


def fingerprint(state: SandboxState) -> list:
    out = []
    for acc in state.accounts.values():
        out.append((acc.id, sorted(acc.companies), sorted(acc.trackers), sorted(acc.users), sorted(acc.tags)))
        out.append([(c.id, c.start_ts, c.duration, c.answered, c.lead_status, c.customer_name, tuple(c.tag_ids))
                    for c in acc.calls])
        out.append(sorted(acc.form_submissions))
        out.append(sorted(acc.text_conversations))
    return out


def test_same_seed_same_data_other_seed_other_data():
    first = SandboxState(seed=7, profile="small", anchor=ANCHOR)
    again = SandboxState(seed=7, profile="small", anchor=ANCHOR)
    other = SandboxState(seed=8, profile="small", anchor=ANCHOR)
    assert fingerprint(first) == fingerprint(again)
    assert fingerprint(first) != fingerprint(other)
    # the accounts and their keys do not depend on the seed
    assert list(first.accounts) == list(other.accounts) == [d.account_id for d in DEMO_ACCOUNTS]
    assert first.token_keys.keys() == other.token_keys.keys()


def test_demo_profile_looks_real():
    state = SandboxState(seed=1, profile="demo", anchor=ANCHOR)
    assert len(state.accounts) == 4
    for acc in state.accounts.values():
        assert len(acc.companies) >= 2
        assert {c["time_zone"] for c in acc.companies.values()} <= {
            "America/Denver", "America/Chicago", "America/New_York", "America/Los_Angeles"}  # fmt: skip
        assert {t["type"] for t in acc.trackers.values()} == {"source", "session"}
        assert all(t["call_flow"]["destination_number"] for t in acc.trackers.values())
        assert {u["role"] for u in acc.users.values()} == {"admin", "manager", "reporting"}
        assert len({t["color"] for t in acc.tags.values()}) >= 5
        assert {t["tag_level"] for t in acc.tags.values()} == {"account", "company"}
        assert acc.notifications
        assert acc.summary_emails
        calls = list(acc.calls)
        assert len(calls) == 2500
        span_days = (calls[-1].start - calls[0].start).days
        assert span_days > 300  # months of history
        kinds = Counter("answered" if c.answered else "voicemail" if c.voicemail else "missed" for c in calls)
        assert all(kinds[k] > 100 for k in ("answered", "voicemail", "missed"))
        assert {c.lead_status for c in calls} >= {"good_lead", "not_a_lead", None, "previously_marked_good_lead"}
        assert len({c.source for c in calls}) >= 6
        assert sum(1 for c in calls if c.tag_ids) > 200
        assert sum(1 for c in calls if c.value) > 50
        assert sum(1 for c in calls if c.recording_key) > 500
        assert sum(1 for c in calls if not c.first_call) > 200  # repeat callers
        assert acc.form_submissions
        assert acc.text_conversations


def test_empty_profile_has_accounts_and_keys_only():
    state = SandboxState(seed=1, profile="empty")
    for acc in state.accounts.values():
        assert len(acc.companies) == 1
        assert len(acc.calls) == 0
        assert not acc.trackers
    assert DEMO_ACCOUNTS[0].api_key in state.token_keys


def test_control_plane_reset_and_info(sandbox):
    info = requests.get(f"{sandbox.url}/_sandbox/info", timeout=10).json()
    assert info["profile"] == "small"
    assert [d["account_id"] for d in info["demo_accounts"]] == [d.account_id for d in DEMO_ACCOUNTS]
    reset = requests.post(f"{sandbox.url}/_sandbox/reset", json={"seed": 3, "profile": "demo",
                                                                  "calls_per_account": 50}, timeout=30).json()
    assert reset["seed"] == 3
    assert reset["profile"] == "demo"
    assert all(a["counts"]["calls"] == 50 for a in reset["accounts"])
    assert requests.post(f"{sandbox.url}/_sandbox/reset", json={"profile": "huge"}, timeout=10).status_code == 400
    assert requests.get(f"{sandbox.url}/_sandbox/nope", timeout=10).status_code == 404


def test_start_and_stop_frees_the_port():
    live = start_sandbox(profile="empty", accounts=1)
    url = live.url
    assert requests.get(f"{url}/_sandbox/health", timeout=5).json() == {"ok": True}
    live.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_sandbox/health", timeout=2)


def test_unknown_start_option_is_refused():
    with pytest.raises(TypeError):
        start_sandbox(profile="empty", colour="blue")


def test_cli_prints_the_demo_accounts():
    out = subprocess.run([sys.executable, "-m", "apps.sandbox", "--print-accounts"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert [a["account_id"] for a in json.loads(out)] == [d.account_id for d in DEMO_ACCOUNTS]


def test_cli_serves_on_a_port():
    proc = subprocess.Popen([sys.executable, "-m", "apps.sandbox", "--port", "0", "--profile", "small",
                             "--accounts", "1", "--quiet"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        demo = DEMO_ACCOUNTS[0]
        response = requests.get(f"{url}/v3/a/{demo.account_id}/companies.json", headers=demo.token_headers(),
                                timeout=10)
        assert response.status_code == 200
        assert response.json()["total_records"] == 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_management_command_has_the_same_options():
    from apps.sandbox.management.commands.run_sandbox import Command

    parser = Command().create_parser("manage.py", "run_sandbox")
    options = parser.parse_args(["--host", "127.0.0.2", "--port", "8100", "--seed", "5", "--profile", "small",
                                 "--calls-per-account", "10", "--time-scale", "60", "--activity-interval", "5",
                                 "--webhook-url", "http://127.0.0.1:9/hook"])
    assert (options.port, options.seed, options.profile, options.time_scale) == (8100, 5, "small", 60.0)
    assert options.calls_per_account == 10
    assert options.webhook_url == "http://127.0.0.1:9/hook"


def test_more_accounts_than_the_demo_ones_each_with_its_own_key_and_limits():
    """Benchmarks at agency scale: accounts beyond the four demo ones, ids and keys from the index alone, one big
    account, each counted against its own rate limits."""
    from apps.sandbox.seed import scale_account

    assert [scale_account(i) for i in range(4)] == DEMO_ACCOUNTS
    extra = [scale_account(i) for i in range(4, 8)]
    assert extra == [scale_account(i) for i in range(4, 8)]  # the same for every call (and seed)
    assert len({a.account_id for a in extra} | {d.account_id for d in DEMO_ACCOUNTS}) == 8
    for account in extra:
        assert re.fullmatch(r"ACC[0-9a-f]{32}", account.account_id)
        assert re.fullmatch(r"[0-9a-f]{32}", account.api_key)

    with start_sandbox(seed=1, profile="small", accounts=6, calls_per_account=5, first_account_calls=40,
                       anchor=ANCHOR, limits={"general": {"hour": 2}}) as live:  # fmt: skip
        assert list(live.state.accounts) == [scale_account(i).account_id for i in range(6)]
        assert [len(live.state.accounts[scale_account(i).account_id].calls) for i in range(6)] == [40] + [5] * 5
        sixth = scale_account(5)
        url = f"{live.api_url}/a/{sixth.account_id}/companies.json"
        answer = requests.get(url, headers=sixth.token_headers(), timeout=10)
        assert answer.status_code == 200
        assert answer.json()["total_records"] == len(live.state.accounts[sixth.account_id].companies) == 2
        other = requests.get(f"{live.api_url}/a/{DEMO_ACCOUNTS[1].account_id}/companies.json",
                             headers=sixth.token_headers(), timeout=10)  # fmt: skip
        assert other.status_code in (401, 403, 404)  # its key reaches its own account only
        assert requests.get(url, headers=sixth.token_headers(), timeout=10).status_code == 200
        assert requests.get(url, headers=sixth.token_headers(), timeout=10).status_code == 429  # its own hour
        fifth = scale_account(4)
        own = requests.get(f"{live.api_url}/a/{fifth.account_id}/companies.json", headers=fifth.token_headers(),
                           timeout=10)  # fmt: skip
        assert own.status_code == 200  # another account's allowance is untouched
