"""Web UI benchmark: 1,000,000 calls across 20 client accounts in PostgreSQL, then the server time of the
main pages as p50/p95 over repeated requests (goal: p95 under 100 ms for every page, at any page depth).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ui_bench REDIS_URL=redis://127.0.0.1:6379/0 \
        REDIS_KEY_PREFIX=uibench .venv/bin/python benchmarks/ui_bench.py [--calls 1000000] [--accounts 20] \
        [--rounds 3] [--repeat 10] [--keep-database]

DATABASE_URL names a database the benchmark creates (loaded with INSERT … SELECT over generate_series, a few
seconds per 100,000 calls) and drops at the end; with ``--keep-database`` it is kept, and a later run with the
same sizes measures again without loading. It refuses an existing database it did not create.
REDIS_KEY_PREFIX must be the benchmark's own: its keys (sessions' cache, cached filter choices) are removed.

The requests go through Django's test client in this process, signed in as the agency's owner, so the
figures are the server's own time (middleware, scoping, queries, templates), without a network or a browser;
the process first freezes its start's objects out of the garbage collector's sight, as ``agency_portal/wsgi.py``
does in a web process (``apps.core.runtime``).
CSV export is timed to the first streamed chunk (header and the first 2,000 rows). The pages are measured in
``--rounds`` rounds of ``--repeat`` requests each, every request followed by one to the baseline page (signed
in, the agency, the layout and its navigation, no content: the floor every portal page stands on, which shows
what the machine gives a request at that moment); each page's line shows its p50/p95 over all rounds and its
p50 in multiples of the baseline's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency_portal.settings.test")
os.environ.setdefault("DJANGO_DEBUG", "false")

from benchmarks.common import (  # noqa: E402
    bench_database,
    load_average,
    ratio_line,
    remove_redis_keys,
    require_own_redis_prefix,
)

AGENCY_SLUG = "ui-bench-agency"
SOURCES = ["Google Ads", "Google Organic", "Bing Ads", "Facebook", "Yelp", "Direct", "Billboard", "Radio"]
GOAL_MS = 100


def ssd_planner_costs() -> None:
    """SSD storage, as every production PostgreSQL should be told (the default random_page_cost 4.0 assumes
    spinning disks and makes the planner walk a whole account's calls instead of a date range's index
    entries)."""
    import psycopg

    base, name = os.environ["DATABASE_URL"].rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET random_page_cost = 1.1')
    print("PostgreSQL: random_page_cost = 1.1 (SSD) on the benchmark database")


def load(*, calls: int, accounts: int, reload: bool) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from apps.credentials.models import Credential
    from apps.tenancy.models import Agency, ClientAccount, Membership, Role, User

    call_command("migrate", verbosity=0)
    agency = Agency.objects.filter(slug=AGENCY_SLUG).first()
    if agency is not None and not reload:
        have = ClientAccount.objects.unscoped(reason="operator-command").filter(agency=agency).count()
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM calls_call")
            (n,) = cur.fetchone()
        if have == accounts and n == calls - calls % accounts:
            print(f"data present: {n:,} calls in {have} accounts (kept from an earlier run)")
            return
    print(f"loading {calls:,} calls across {accounts} accounts …", flush=True)
    started = time.perf_counter()
    with connection.cursor() as cur:
        for table in ("calls_call", "tags_tag", "trackers_tracker", "companies_company"):
            cur.execute(f"TRUNCATE {table} CASCADE")
    Agency.objects.filter(slug=AGENCY_SLUG).delete()
    agency = Agency.objects.create(name="UI Bench Agency", slug=AGENCY_SLUG)
    owner, _ = User.objects.get_or_create(email="owner@ui-bench.test", defaults={"full_name": "Bench Owner"})
    Membership.objects.get_or_create(user=owner, agency=agency, defaults={"role": Role.OWNER})
    per_account = calls // accounts
    now = timezone.now()
    with connection.cursor() as cur:
        for index in range(accounts):
            credential = Credential.objects.create(
                agency=agency, name=f"Bench key {index}", api_key=f"bench-key-{index}"
            )
            account = ClientAccount.objects.create(
                agency=agency, name=f"Bench Client {index:02d}", callrail_account_id=f"ACC{index:032x}",
                credential=credential, time_zone="America/New_York",
            )  # fmt: skip
            a = account.pk
            common = "'{}'::jsonb, md5(g::text), %(now)s, %(now)s, %(now)s"
            cur.execute(
                f"""INSERT INTO companies_company (client_account_id, callrail_id, payload, payload_hash, first_seen_at,
                    last_seen_at, changed_at, name, status, time_zone)
                    SELECT %(a)s, 'COM' || %(a)s || '-' || g, {common}, 'Company ' || g, 'active', 'America/New_York'
                    FROM generate_series(1, 5) g""",  # noqa: S608 - constants only
                {"a": a, "now": now},
            )
            cur.execute(
                f"""INSERT INTO trackers_tracker (client_account_id, callrail_id, payload, payload_hash, first_seen_at,
                    last_seen_at, changed_at, name, type, status, tracking_numbers, source, call_flow, company_id)
                    SELECT %(a)s, 'TRK' || %(a)s || '-' || g, {common}, 'Tracker ' || g, 'source', 'active',
                      '[]'::jsonb, '{{}}'::jsonb, '{{}}'::jsonb,
                      (SELECT id FROM companies_company WHERE client_account_id = %(a)s ORDER BY id
                       OFFSET (g %% 5) LIMIT 1)
                    FROM generate_series(1, 20) g""",  # noqa: S608
                {"a": a, "now": now},
            )
            cur.execute(
                f"""INSERT INTO tags_tag (client_account_id, callrail_id, payload, payload_hash, first_seen_at,
                    last_seen_at, changed_at, name, tag_level, status)
                    SELECT %(a)s, 'TAG' || %(a)s || '-' || g, {common}, 'tag-' || g, 'account', 'enabled'
                    FROM generate_series(1, 10) g""",  # noqa: S608
                {"a": a, "now": now},
            )
            cur.execute(
                """
                WITH c AS (SELECT array_agg(id ORDER BY id) ids FROM companies_company WHERE client_account_id = %(a)s),
                     t AS (SELECT array_agg(id ORDER BY id) ids, array_agg(company_id ORDER BY id) cos
                           FROM trackers_tracker WHERE client_account_id = %(a)s)
                INSERT INTO calls_call (client_account_id, callrail_id, payload, payload_hash, first_seen_at,
                    last_seen_at, changed_at, tracker_id, company_id, direction, answered, voicemail, duration,
                    start_time, customer_name, customer_phone_number, tracking_phone_number, source, lead_status,
                    tags, spam, first_call, prior_calls, recording_player, value)
                SELECT %(a)s, 'CAL' || %(a)s || '-' || g, '{}'::jsonb, md5(g::text), %(now)s, %(now)s, %(now)s,
                    t.ids[1 + g %% 20], t.cos[1 + g %% 20],
                    CASE WHEN g %% 10 = 0 THEN 'outbound' ELSE 'inbound' END,
                    (g %% 4) <> 0, (g %% 4) = 0 AND (g %% 8) = 0, (g * 7919) %% 900,
                    %(now)s - make_interval(secs => (g::float8 / %(n)s) * 400 * 86400),
                    'Caller ' || g, '+1404' || lpad((g %% 10000000)::text, 7, '0'), '+14045550' || (g %% 20 + 100),
                    (%(sources)s::text[])[1 + (g * 31) %% 8],
                    CASE g %% 5 WHEN 0 THEN 'good_lead' WHEN 1 THEN 'not_a_lead' ELSE NULL END,
                    CASE WHEN g %% 7 = 0 THEN jsonb_build_array('tag-' || (1 + g %% 10)) ELSE '[]'::jsonb END,
                    g %% 50 = 0, g %% 3 = 0, g %% 3,
                    'https://app.callrail.test/calls/' || g || '/recording', (g %% 100) * 1.5
                FROM generate_series(1, %(n)s) g, c, t
                """,
                {"a": a, "now": now, "n": per_account, "sources": SOURCES},
            )
            print(f"  account {index + 1}/{accounts}: {per_account:,} calls", flush=True)
        cur.execute("VACUUM ANALYZE calls_call")
        cur.execute("ANALYZE")
    print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def pages() -> tuple[list[tuple[str, object]], object]:
    """The measured pages (label, request function) and the baseline's request function."""
    from django.test import Client
    from django.urls import reverse

    from apps.calls.models import Call
    from apps.tenancy.middleware import SESSION_KEY
    from apps.tenancy.models import Agency, ClientAccount, User

    agency = Agency.objects.get(slug=AGENCY_SLUG)
    owner = User.objects.get(email="owner@ui-bench.test")
    account = ClientAccount.objects.unscoped(reason="operator-command").filter(agency=agency).order_by("pk")[5]
    calls_per_account = Call.objects.for_account(account).count()
    deepest = -(-calls_per_account // 50)
    client = Client()
    client.force_login(owner)
    session = client.session
    session[SESSION_KEY] = agency.pk
    session.save()
    newest_first = Call.objects.for_account(account).order_by("-start_time").values_list("pk", flat=True)
    one_call = newest_first[calls_per_account // 4]
    calls_url = reverse("portal:resource_list", args=[account.pk, "calls"])

    def get(url: str, **params):
        def fn():
            response = client.get(url, params)
            assert response.status_code == 200, (url, response.status_code)
            response.content  # noqa: B018 - render fully

        return fn

    def export(**params):
        def fn():
            response = client.get(reverse("portal:resource_export", args=[account.pk, "calls"]), params)
            assert response.status_code == 200
            next(iter(response.streaming_content))
            response.close()

        return fn

    print(f"{calls_per_account:,} calls in the measured account; {deepest:,} pages of 50", flush=True)
    measured = [
        ("dashboard (20 accounts, calls today)", get(reverse("portal:dashboard"))),
        ("dashboard (calls last 30 days)", get(reverse("portal:dashboard"), range="last_30_days")),
        ("account overview (KPIs, 31-day chart, summaries)", get(reverse("portal:account_detail", args=[account.pk]))),
        ("calls list, page 1", get(calls_url)),
        ("calls list, page 100", get(calls_url, page=100)),
        (f"calls list, last page ({deepest:,})", get(calls_url, page=deepest)),
        ("calls list, 200 rows per page", get(calls_url, per_page=200)),
        ("calls, last_30_days + missed, page 1", get(calls_url, date_range="last_30_days", answer_status="missed")),
        ("calls, this_year + good_lead + Google Ads, page 20",
         get(calls_url, date_range="this_year", lead_status="good_lead", source="Google Ads", page=20)),
        ("calls, first-time + not spam, past the last page", get(calls_url, first_call="yes", spam="no", page=10**6)),
        ("calls, tag filter, page 1", get(calls_url, tag="tag-3")),
        ("calls, search 'Caller 4242', page 1", get(calls_url, q="Caller 4242")),
        ("calls, sorted by duration, page 500", get(calls_url, sort="-duration", page=500)),
        ("call detail", get(reverse("portal:resource_detail", args=[account.pk, "calls", one_call]))),
        ("CSV export start (all calls, first chunk)", export()),
        ("CSV export start (last_30_days + missed)", export(date_range="last_30_days", answer_status="missed")),
        ("system page (queues, workers, 20 accounts' sync and budget)", get(reverse("operations:system"))),
    ]  # fmt: skip
    return measured, get(reverse("bench_baseline"))


def run(rounds: int, repeat: int) -> tuple[int, int]:
    from apps.core.runtime import freeze_startup_objects

    measured, baseline = pages()
    freeze_startup_objects()  # as agency_portal/wsgi.py does in a web process before its first request
    for _, fn in measured:
        fn()  # warm-up (template and plan caches)
    baseline()
    samples: dict[str, list[float]] = {label: [] for label, _ in measured}
    base: dict[str, list[float]] = {label: [] for label, _ in measured}

    def timed(fn) -> float:
        started = time.perf_counter()
        fn()
        return (time.perf_counter() - started) * 1000

    for number in range(1, rounds + 1):
        for label, fn in measured:  # each page, then the baseline, alternately
            for _ in range(repeat):
                samples[label].append(timed(fn))
                base[label].append(timed(baseline))
        print(f"  round {number} of {rounds} done; {load_average()}", flush=True)
    print(f"\n{'page':<62} {'p50':>8} {'p95':>8}  {'p50 / baseline p50':>18}")
    under = 0
    for label, _ in measured:
        p50, p95 = statistics.median(samples[label]), percentile(samples[label], 0.95)
        base50 = statistics.median(base[label])
        under += p95 < GOAL_MS
        verdict = "ok" if p95 < GOAL_MS else "SLOW"
        print(f"{label:<62} {p50:6.1f}ms {p95:6.1f}ms  {p50 / base50:8.1f} x {base50:4.1f}ms  {verdict}")
    everything = [t for values in base.values() for t in values]
    print(f"baseline (an empty portal page): p50 {statistics.median(everything):.1f} ms, "
          f"p95 {percentile(everything, 0.95):.1f} ms")  # fmt: skip
    return under, len(measured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=10, help="requests per page and round")
    parser.add_argument("--keep-database", action="store_true", help="keep the loaded database for the next run")
    args = parser.parse_args()
    require_own_redis_prefix()
    print(f"UI benchmark, {args.calls:,} calls over {args.accounts} accounts; {load_average()}", flush=True)
    with bench_database(keep=args.keep_database) as created:
        ssd_planner_costs()
        import django

        django.setup()
        from django.conf import settings

        settings.ROOT_URLCONF = "benchmarks.ui_urls"  # the portal's URLs and the baseline page
        import logging

        logging.disable(logging.INFO)
        try:
            load(calls=args.calls, accounts=args.accounts, reload=created)
            under, total = run(args.rounds, args.repeat)
            print(f"\n{under} of {total} pages with p95 under {GOAL_MS} ms; {load_average()}")
            print(ratio_line("ui_pages_under_100ms", f"{under}/{total}", f"{total}/{total}"))
        finally:
            from django.db import connections

            connections.close_all()
            remove_redis_keys()


if __name__ == "__main__":
    main()
