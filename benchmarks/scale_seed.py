"""Agency scale (issue 22): N connected client accounts spread over M agencies, created fast and deterministically.

``seed_scale(accounts=1000, agencies=50)`` writes, with ``bulk_create`` through the real models (a few seconds
for 1,000 accounts), everything the portal needs to treat each account as a real connected one:

* agencies, each with an owner (who may see the System page) and the accounts spread evenly over them;
* one credential per account holding ``api_key_for(i)`` encrypted at rest, the way ``apps/credentials`` stores
  keys (``EncryptedTextField``), pointed at ``api_base_url`` (a CallRail root such as the sandbox's; a
  trailing ``/v3/`` is dropped, since the client adds it to every path);
* each account's sync schedule, its per-resource sync states (cursors, last successes) and a history of sync
  runs: incremental runs every 10 minutes for the last hours and a nightly full one for the last days, with a
  few failed or partial runs, a few paused accounts and a few whose key CallRail refused;
* a few companies and trackers per account, and ``calls_per_account`` calls over the last 30 days, mapped
  from CallRail-shaped records by the sync engine's own mapping (``apps.sync.engine.map_record``);
* a superuser (operator, Django staff) for ``/metrics`` and the Django admin.

Call it in a Django-configured process (DJANGO_SETTINGS_MODULE and DATABASE_URL set, migrations applied). The
same ``seed`` gives the same names, ids and history; database ids depend on what the database held before.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

SCALE_PASSWORD = "scale-portal-2026"  # noqa: S105 - benchmark logins only
TRADES = ["Plumbing", "Roofing", "Dental", "HVAC", "Law Group", "Auto Repair", "Landscaping", "Med Spa",
          "Electric", "Pest Control", "Chiropractic", "Realty", "Veterinary", "Fitness", "Solar"]  # fmt: skip
CITIES = [("Denver", "CO", "America/Denver"), ("Madison", "WI", "America/Chicago"),
          ("Atlanta", "GA", "America/New_York"), ("San Diego", "CA", "America/Los_Angeles"),
          ("Charlotte", "NC", "America/New_York"), ("Phoenix", "AZ", "America/Phoenix"),
          ("Rockford", "IL", "America/Chicago"), ("Boise", "ID", "America/Boise")]  # fmt: skip
AGENCY_WORDS = ["Northwind", "Bluebird", "Summit", "Harbor", "Ironwood", "Lakeside", "Redline", "Brightpath",
                "Clearwater", "Foxglove"]  # fmt: skip
SOURCES = [("Google Ads", "cpc", "google_paid"), ("Google Organic", "organic", "google_organic"),
           ("Facebook", "social", "facebook_paid"), ("Yelp", "referral", "yelp"), ("Direct", "direct", "direct"),
           ("Bing Ads", "cpc", "bing_paid")]  # fmt: skip


@dataclass(frozen=True)
class Login:
    username: str  # the email address the login form asks for
    password: str


@dataclass
class ScaleSeed:
    """What ``seed_scale`` created. Lists are in creation order: ``admins[k]`` owns ``agency_ids[k]``;
    ``account_ids[i]``, ``callrail_account_ids[i]`` and ``credential_ids[i]`` are account ``i``
    (``api_key_for(i)``), which belongs to ``account_agency[account_ids[i]]``."""

    agency_ids: list[int]
    account_ids: list[int]
    callrail_account_ids: list[str]
    credential_ids: list[int]
    admins: list[Login]
    superuser: Login
    account_agency: dict[int, int] = field(default_factory=dict)
    companies: int = 0
    trackers: int = 0
    calls: int = 0
    sync_runs: int = 0

    def accounts_of(self, agency_id: int) -> list[int]:
        return [pk for pk in self.account_ids if self.account_agency[pk] == agency_id]


def callrail_account_id(seed: int, index: int) -> str:
    """A valid CallRail account id (``ACC`` + 32 hex), the same for the same seed and index."""
    return "ACC" + hashlib.md5(f"scale-{seed}-{index}".encode(), usedforsecurity=False).hexdigest()


def _root(api_base_url: str) -> str:
    url = api_base_url.strip().rstrip("/")
    return url.removesuffix("/v3")


def seed_scale(
    *,
    accounts: int,
    agencies: int,
    api_base_url: str = "http://127.0.0.1:1/v3/",
    api_key_for: Callable[[int], str] = lambda i: f"scale-key-{i}",
    calls_per_account: int = 0,
    seed: int = 22,
    now: datetime | None = None,
    largest_agency_accounts: int = 0,
    history_days: float = 0,
) -> ScaleSeed:
    """Create ``accounts`` client accounts over ``agencies`` agencies: account ``i`` in agency ``i % agencies``
    (an even spread), or with ``largest_agency_accounts`` the first that many in the first agency (a big agency)
    and the rest spread evenly over the others. Each account has three hours of sync runs, and ``history_days``
    more before them."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from apps.credentials.models import Credential
    from apps.sync.models import SyncSchedule
    from apps.tenancy.models import Agency, AuthMode, ClientAccount, Membership, Role, User

    if accounts < 1 or agencies < 1 or agencies > accounts:
        raise ValueError("need at least one account per agency")
    largest = largest_agency_accounts if agencies > 1 else 0
    if largest and accounts - largest < agencies - 1:
        raise ValueError("largest_agency_accounts leaves too few accounts for the other agencies")

    def agency_of(i: int) -> int:
        if not largest:
            return i % agencies
        return 0 if i < largest else 1 + (i - largest) % (agencies - 1)

    rng = random.Random(seed)
    now = now or timezone.now()
    password_hash = make_password(SCALE_PASSWORD)  # hashed once: the same password for every login
    root = _root(api_base_url)
    tag = f"s{seed}"
    with transaction.atomic():
        agency_rows = Agency.objects.bulk_create([
            Agency(name=f"{AGENCY_WORDS[k % len(AGENCY_WORDS)]} Marketing {k + 1:02d}", slug=f"scale-{tag}-{k + 1:03d}")
            for k in range(agencies)
        ])  # fmt: skip
        owners = User.objects.bulk_create([
            User(email=f"owner{k + 1:03d}@{tag}.scale.test", full_name=f"Owner of {a.name}", password=password_hash)
            for k, a in enumerate(agency_rows)
        ])  # fmt: skip
        Membership.objects.bulk_create([
            Membership(user=u, agency=a, role=Role.OWNER) for u, a in zip(owners, agency_rows, strict=True)
        ])  # fmt: skip
        superuser = User.objects.create(
            email=f"operator@{tag}.scale.test", full_name="Scale Operator", password=password_hash,
            is_staff=True, is_superuser=True,
        )  # fmt: skip

        specs = []
        for i in range(accounts):
            city, state, zone = CITIES[i % len(CITIES)]
            specs.append((i, f"{city} {TRADES[(i // len(CITIES)) % len(TRADES)]} {i + 1:04d}", state, zone))
        credentials = Credential.objects.bulk_create([
            Credential(agency=agency_rows[agency_of(i)], name=f"{name} key", auth_mode=AuthMode.DIRECT,
                       api_key=api_key_for(i), base_url=root, checked_at=now - timedelta(days=30),
                       key_changed_at=now - timedelta(days=30))
            for i, name, _, _ in specs
        ])  # fmt: skip
        refused = {i for i in range(accounts) if rng.random() < 0.01}
        paused = {i for i in range(accounts) if rng.random() < 0.03} - refused
        rows = []
        for (i, name, _, zone), credential in zip(specs, credentials, strict=True):
            rows.append(ClientAccount(
                agency=agency_rows[agency_of(i)], name=name, callrail_account_id=callrail_account_id(seed, i),
                credential=credential, time_zone=zone, sync_enabled=i not in paused,
                connection_error="CallRail refused the API key (401): check it under Settings › Integrations."
                if i in refused else "",
                connection_checked_at=now - timedelta(days=30),
            ))  # fmt: skip
        client_accounts = ClientAccount.objects.bulk_create(rows)
        SyncSchedule.objects.unscoped(reason="demo-data").bulk_create([
            SyncSchedule(client_account=a, last_incremental_at=now - timedelta(minutes=rng.randrange(1, 10)),
                         last_full_at=_last_night(now, rng))
            for a in client_accounts
        ])  # fmt: skip
        runs = _sync_history(client_accounts, now, rng, failing={i for i in range(accounts) if rng.random() < 0.04})
        runs += _older_history(client_accounts, now, history_days)
        _sync_totals(client_accounts)
        _sync_states(client_accounts, now)
        companies, trackers, calls = _mirror(client_accounts, specs, now, rng, calls_per_account)
    return ScaleSeed(
        agency_ids=[a.pk for a in agency_rows],
        account_ids=[a.pk for a in client_accounts],
        callrail_account_ids=[a.callrail_account_id for a in client_accounts],
        credential_ids=[c.pk for c in credentials],
        admins=[Login(u.email, SCALE_PASSWORD) for u in owners],
        superuser=Login(superuser.email, SCALE_PASSWORD),
        account_agency={a.pk: a.agency_id for a in client_accounts},
        companies=companies,
        trackers=trackers,
        calls=calls,
        sync_runs=runs,
    )


def copy_rows(model: type, rows: list[dict[str, Any]], *, using: str = "default") -> list[int]:
    """Insert ``rows`` (field attname -> value; missing fields take the model's defaults) through ``COPY``, the
    way the sync engine writes pages: several times faster than ``bulk_create``'s parameter quoting, and no
    model instance built per row. Ids are drawn from the table's sequence first and returned in order. JSON
    goes as JSON text, encrypted fields through their own ``get_prep_value`` (keys encrypted at rest)."""
    import orjson
    from django.db import connections
    from django.db.models import JSONField
    from django.utils import timezone

    if not rows:
        return []
    connection = connections[using]
    meta = model._meta
    now = timezone.now()
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    defaults = {
        f.attname: now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        else f.get_default() if f.has_default() else None
        for f in fields
    }  # fmt: skip
    json_fields = {f.attname for f in fields if isinstance(f, JSONField)}
    prepared = {f.attname: f.get_prep_value for f in fields if type(f).__name__ == "EncryptedTextField"}
    names = [f.attname for f in fields]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        columns = ", ".join(quote(c) for c in [meta.pk.column, *(f.column for f in fields)])
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for pk, row in zip(ids, rows, strict=True):
                values = [pk]
                for name in names:
                    value = row.get(name, defaults[name])
                    if name in json_fields:
                        value = orjson.dumps(value).decode()
                    elif name in prepared:
                        value = prepared[name](value)
                    values.append(value)
                copy.write_row(values)
    return ids


def _last_night(now: datetime, rng: random.Random) -> datetime:
    night = now.replace(hour=3, minute=0, second=0, microsecond=0)
    if night > now:
        night -= timedelta(days=1)
    return night + timedelta(seconds=rng.randrange(0, 1800))


def _sync_history(accounts: list, now: datetime, rng: random.Random, *, failing: set[int],
                  incremental: int = 18, nights: int = 7) -> int:  # fmt: skip
    """Per account: the last ``incremental`` incremental runs (every 10 minutes) and ``nights`` nightly full
    runs; the ``failing`` accounts' latest runs failed or partly failed, paused accounts stopped a day ago."""
    from apps.sync.models import SyncKind, SyncRun, SyncStatus, SyncTrigger
    from apps.sync.resources import resource_names

    everything = resource_names()
    incremental_resources = ["calls", "form_submissions", "text_conversations"]
    rows: list[dict[str, Any]] = []
    for index, account in enumerate(accounts):
        end = now if account.sync_enabled else now - timedelta(days=1)
        refused = bool(account.connection_error)
        for n in range(incremental):
            queued = end - timedelta(minutes=10 * n + rng.randrange(0, 5))
            status = SyncStatus.SUCCEEDED
            errors: list[dict] = []
            if (refused and n < 6) or (index in failing and n in (0, 3)):
                status = SyncStatus.FAILED
                errors = [{"resource": "calls", "message": "CallRail answered 401: the API key was refused."
                           if refused else "CallRail did not answer within 30 s."}]  # fmt: skip
            elif index in failing and n == 1:
                status = SyncStatus.PARTIAL
                errors = [{"resource": "text_conversations", "message": "CallRail answered 500 twice."}]
            took = timedelta(seconds=rng.uniform(0.8, 6))
            rows.append(dict(
                client_account_id=account.pk, kind=SyncKind.INCREMENTAL, resources=incremental_resources, status=status,
                trigger=SyncTrigger.SCHEDULE, queued_at=queued, started_at=queued + timedelta(seconds=1),
                heartbeat_at=queued + took, finished_at=queued + took, records_created=rng.randrange(0, 4),
                records_updated=rng.randrange(0, 3), records_unchanged=rng.randrange(0, 40),
                requests=3 + rng.randrange(0, 3), rate_limited=1 if rng.random() < 0.02 else 0, attempts=1,
                progress={"done": incremental_resources if status == SyncStatus.SUCCEEDED else []}, errors=errors,
            ))  # fmt: skip
        for night in range(nights):
            queued = _last_night(end, rng) - timedelta(days=night)
            took = timedelta(seconds=rng.uniform(20, 240))
            rows.append(dict(
                client_account_id=account.pk, kind=SyncKind.FULL, resources=everything,
                status=SyncStatus.FAILED if refused and night == 0 else SyncStatus.SUCCEEDED,
                trigger=SyncTrigger.SCHEDULE, queued_at=queued, started_at=queued + timedelta(seconds=2),
                heartbeat_at=queued + took, finished_at=queued + took, records_updated=rng.randrange(0, 30),
                records_unchanged=rng.randrange(200, 3000), requests=30 + rng.randrange(0, 40), attempts=1,
                progress={"done": everything},
            ))  # fmt: skip
    rows.sort(key=lambda r: r["queued_at"])  # ids grow with time, as in a real history
    copy_rows(SyncRun, rows)
    return len(rows)


def _older_history(accounts: list, now: datetime, days: float) -> int:
    """``days`` more of history before the recent runs, as the default schedule leaves it: an incremental every
    10 minutes and a full run a night per account, all succeeded (one INSERT … SELECT: a month at 1,000 accounts
    is millions of rows)."""
    from django.db import connection

    from apps.sync.models import SyncRun

    if days <= 0:
        return 0
    table = connection.ops.quote_name(SyncRun._meta.db_table)
    sql = f"""
        INSERT INTO {table} (client_account_id, kind, resources, windows, status, trigger, lane, lock_ttl, queued_at,
            started_at, heartbeat_at, finished_at, records_created, records_updated, records_unchanged,
            records_deleted, requests, rate_limited, attempts, progress, errors, problems, problem_count)
        SELECT a.id, k.kind, '["calls"]', '{{}}', 'succeeded', 'schedule', 'background', 120, t, t + k.took,
            t + k.took, t + k.took, 0, 0, k.unchanged, 0, k.requests, 0, 1, '{{}}', '[]', '[]', 0
        FROM unnest(%(ids)s::bigint[]) AS a(id)
        CROSS JOIN generate_series(%(start)s::timestamptz, %(end)s::timestamptz, interval '10 minutes') AS t
        CROSS JOIN LATERAL (SELECT CASE WHEN extract(hour FROM t) = 3 AND extract(minute FROM t) < 10
            THEN 'full' ELSE 'incremental' END AS kind) AS n
        CROSS JOIN LATERAL (SELECT n.kind, CASE WHEN n.kind = 'full' THEN interval '90 seconds'
            ELSE interval '2 seconds' END AS took, CASE WHEN n.kind = 'full' THEN 50 ELSE 4 END AS requests,
            CASE WHEN n.kind = 'full' THEN 1500 ELSE 20 END AS unchanged) AS k
        ORDER BY t, a.id
    """  # noqa: S608 (the table name is the model's)
    end = now - timedelta(hours=4)  # before the recent runs (_sync_history: the last three hours)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": [a.pk for a in accounts], "start": end - timedelta(days=days), "end": end})
        return cursor.rowcount


def _sync_totals(accounts: list) -> None:
    """What the seeded runs recorded, added up per account (what their workers would have kept in SyncTotals)."""
    from django.db import connection

    from apps.sync.models import SyncRun, SyncTotals

    totals, runs = (connection.ops.quote_name(m._meta.db_table) for m in (SyncTotals, SyncRun))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {totals} (client_account_id, requests, rate_limited) SELECT client_account_id, "  # noqa: S608
            f"sum(requests), sum(rate_limited) FROM {runs} WHERE client_account_id = ANY(%s) GROUP BY 1",
            [[a.pk for a in accounts]],
        )


def _sync_states(accounts: list, now: datetime) -> None:
    from apps.sync.models import SyncState
    from apps.sync.resources import RESOURCES

    rows = []
    for account in accounts:
        last = now if account.sync_enabled else now - timedelta(days=1)
        for resource in RESOURCES:
            rows.append(dict(
                client_account_id=account.pk, resource=resource.name, last_success_at=last - timedelta(minutes=5),
                last_full_at=last - timedelta(hours=12), cursor=last - timedelta(minutes=5) if resource.dated else None,
            ))  # fmt: skip
    copy_rows(SyncState, rows)


def _mirror(accounts: list, specs: list, now: datetime, rng: random.Random, calls_per_account: int) -> tuple:
    """Companies, trackers and calls as CallRail lists them, mapped by the sync engine's own mapping."""
    from apps.calls.models import Call
    from apps.companies.models import Company
    from apps.sync.engine import SyncContext, map_record, payload_hash
    from apps.sync.resources import get_resource
    from apps.trackers.models import Tracker

    def mirror(ctx: SyncContext, resource: str, record: dict) -> dict[str, Any]:
        values = map_record(ctx, get_resource(resource), record, record["id"])
        return {"client_account_id": ctx.account.pk, "callrail_id": record["id"], "payload": record,
                "payload_hash": payload_hash(record), "first_seen_at": now - timedelta(days=60), "last_seen_at": now,
                "changed_at": now - timedelta(days=60), **values}  # fmt: skip

    contexts = {a.pk: SyncContext(account=a, client=None) for a in accounts}  # type: ignore[arg-type]
    company_records: dict[int, list[dict]] = {}
    rows: list[dict[str, Any]] = []
    for account, (i, name, _, zone) in zip(accounts, specs, strict=True):
        company_records[account.pk] = []
        for c in range(1 + rng.randrange(0, 3)):
            record = {"id": f"COM{hashlib.md5(f'{i}-{c}'.encode(), usedforsecurity=False).hexdigest()}",
                      "name": name if c == 0 else f"{name} – location {c + 1}", "status": "active",
                      "time_zone": zone, "dni_active": True, "callscribe_enabled": c == 0,
                      "lead_scoring_enabled": True, "form_capture": c == 0,
                      "created_at": (now - timedelta(days=400 + i % 300)).isoformat(), "disabled_at": None}  # fmt: skip
            company_records[account.pk].append(record)
            rows.append(mirror(contexts[account.pk], "companies", record))
    company_pk: dict[int, dict[str, int]] = {}
    for row, pk in zip(rows, copy_rows(Company, rows), strict=True):
        company_pk.setdefault(row["client_account_id"], {})[row["callrail_id"]] = pk
    companies = len(rows)

    rows, tracker_records = [], {}
    for account, (i, _, _, _) in zip(accounts, specs, strict=True):
        ctx = contexts[account.pk]
        ctx._refs["companies"] = company_pk[account.pk]  # what ctx.refs() would read back
        tracker_records[account.pk] = []
        for t in range(3 + rng.randrange(0, 4)):
            company = company_records[account.pk][t % len(company_records[account.pk])]
            label, medium, kind = SOURCES[t % len(SOURCES)]
            number = f"+1{303 + i % 600:03d}555{(i * 7 + t) % 10000:04d}"
            record = {"id": f"TRK{hashlib.md5(f'{i}-{t}'.encode(), usedforsecurity=False).hexdigest()}",
                      "name": f"{label} ({company['name']})", "type": "source", "status": "active",
                      "destination_number": f"+1720555{i % 10000:04d}", "tracking_numbers": [number],
                      "whisper_message": None, "sms_enabled": True, "source": {"type": kind},
                      "call_flow": {"type": "basic", "recording_enabled": True},
                      "company": {"id": company["id"], "name": company["name"]},
                      "created_at": (now - timedelta(days=300)).isoformat(), "disabled_at": None}  # fmt: skip
            tracker_records[account.pk].append((record, label, medium))
            rows.append(mirror(ctx, "trackers", record))
    trackers = len(rows)
    tracker_pk: dict[int, dict[str, int]] = {}
    for row, pk in zip(rows, copy_rows(Tracker, rows), strict=True):
        tracker_pk.setdefault(row["client_account_id"], {})[row["callrail_id"]] = pk

    calls = 0
    if calls_per_account:
        rows = []
        for account, (i, _, state, _) in zip(accounts, specs, strict=True):
            ctx = contexts[account.pk]
            ctx._refs["trackers"] = tracker_pk.get(account.pk, {})
            for n in range(calls_per_account):
                tracker, label, medium = tracker_records[account.pk][n % len(tracker_records[account.pk])]
                start = now - timedelta(seconds=rng.randrange(60, 30 * 86400))
                answered = rng.random() < 0.78
                record = {"id": f"CAL{hashlib.md5(f'{i}-{n}'.encode(), usedforsecurity=False).hexdigest()}",
                          "company_id": tracker["company"]["id"], "tracker_id": tracker["id"],
                          "direction": "inbound", "call_type": "first_call" if n % 3 else "returning",
                          "answered": answered, "voicemail": not answered and rng.random() < 0.5,
                          "duration": rng.randrange(20, 600) if answered else rng.randrange(0, 30),
                          "start_time": start.isoformat(), "created_at": start.isoformat(),
                          "customer_name": f"Caller {n + 1}", "customer_phone_number": f"+1608555{n % 10000:04d}",
                          "customer_city": "Springfield", "customer_state": state, "customer_country": "US",
                          "business_phone_number": tracker["destination_number"],
                          "tracking_phone_number": tracker["tracking_numbers"][0], "source": label,
                          "source_name": label, "medium": medium, "campaign": None, "keywords": None,
                          "landing_page_url": None, "referring_url": None, "device_type": "mobile",
                          "lead_status": "good_lead" if answered and n % 4 == 0 else None, "value": None,
                          "note": None, "tags": [], "recording": None, "recording_player": None,
                          "recording_duration": None, "first_call": n % 3 != 0, "prior_calls": n % 3,
                          "person_id": None, "agent_email": None}  # fmt: skip
                rows.append(mirror(ctx, "calls", record))
            if len(rows) >= 20000:
                copy_rows(Call, rows)
                calls += len(rows)
                rows = []
        copy_rows(Call, rows)
        calls += len(rows)
    return companies, trackers, calls
