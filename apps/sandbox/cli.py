"""Command line: ``python -m apps.sandbox`` (and ``manage.py run_sandbox``, which calls the same code)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .seed import DEMO_ACCOUNTS, PROFILES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8100, help="port (default 8100; 0 picks a free one)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data (default 1)")
    parser.add_argument("--profile", choices=PROFILES, default="demo", help="how much data (default demo)")
    parser.add_argument("--calls-per-account", type=int, default=None, help="calls seeded in each account")
    parser.add_argument("--history-days", type=int, default=None, help="days of history (max 740)")
    parser.add_argument("--accounts", type=int, default=None,
                        help="how many accounts: the 4 demo ones, then generated ones (seed.scale_account; default 4)")
    parser.add_argument("--first-account-calls", type=int, default=None,
                        help="calls seeded in the first account alone (one big account among many)")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="rate-limit clock speed: 60 makes an hour last a minute (default 1)")
    parser.add_argument("--activity-interval", type=float, default=None,
                        help="generate new/modified calls, texts and forms every N seconds")
    parser.add_argument("--webhook-url", default=None,
                        help="create a Webhooks integration in every company posting all events to this URL")
    parser.add_argument("--public-url", default=None, help="base URL to write into links (behind a proxy)")
    parser.add_argument("--control-token", default=None, help="require X-Sandbox-Token on /_sandbox/ control calls")
    parser.add_argument("--request-log-size", type=int, default=200_000,
                        help="requests kept for /_sandbox/requests and usage figures (default 200,000)")
    parser.add_argument("--quiet", action="store_true", help="no access log")


def run(options: dict, out=sys.stdout) -> None:
    from .server import build, serve_forever

    live = build(
        options["host"],
        options["port"],
        seed=options["seed"],
        profile=options["profile"],
        time_scale=options["time_scale"],
        quiet=options.get("quiet", False),
        activity_interval=options.get("activity_interval"),
        control_token=options.get("control_token"),
        calls_per_account=options.get("calls_per_account"),
        history_days=options.get("history_days"),
        accounts=options.get("accounts"),
        first_account_calls=options.get("first_account_calls"),
        request_log_size=options.get("request_log_size") or 200_000,
        webhook_url=options.get("webhook_url"),
        public_url=options.get("public_url"),
    )
    info = live.state.info()
    print(f"CallRail sandbox on {live.url}  (profile={info['profile']} seed={info['seed']}, "
          f"seeded in {info['seeded_in_seconds']}s)", file=out)
    print(f"  direct API:  {live.url}/v3/a.json   Authorization: Token token=\"<api_key>\"", file=out)
    print(f"  gateway:     {live.url}/callrail/v3/a.json   Authorization: Bearer <gateway_key>", file=out)
    print(f"  control:     {live.url}/_sandbox/info", file=out)
    count = len(info["accounts"])
    for demo in DEMO_ACCOUNTS[: min(count, len(DEMO_ACCOUNTS))]:
        print(f"  {demo.account_id}  {demo.name:<28} api_key={demo.api_key}  "
              f"connection={demo.connection_id}", file=out)
    print(f"  gateway key: {DEMO_ACCOUNTS[0].gateway_key}", file=out)
    out.flush()
    serve_forever(live)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.sandbox", description="CallRail API v3 sandbox")
    add_arguments(parser)
    parser.add_argument("--print-accounts", action="store_true", help="print the demo accounts as JSON and exit")
    args = parser.parse_args(argv)
    if args.print_accounts:
        print(json.dumps([d.as_dict() for d in DEMO_ACCOUNTS], indent=2))
        return 0
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run(vars(args))
    return 0
