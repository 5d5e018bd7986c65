"""The continuous re-read: every call (form submission, text conversation) of the retention window is listed
again, in rotation, paced by the background budget the schedule leaves over — so an edit of a record of
any age made in CallRail reaches the mirror within a known time, without webhooks.

*Coverage.* Each windowed resource's ``SyncState.coverage`` records which time ranges were last listed when
(``[[start, end, read_at], …]``): every pass writes it — incremental, full, re-read slice, targeted pull.
``read_at`` is when the run was queued, never later than the listing, so the coverage only ever
understates how fresh the mirror is.

*Pace.* Per hour the re-read may spend ``R`` = the background lane's hourly pace (the day's allowance ÷ 24)
minus what the rest of the schedule spent over the last day (incremental and full syncs), at least an
estimate of the incrementals. Rotating through ``P`` pages (the mirror's record counts ÷ 250, plus one a
resource):

* ``P <= R * round/60``: every record is re-read every round (``SYNC_REREAD_ROUND_MINUTES``, default 60);
* else the newest records, as many as a quarter of a round's pages hold, are still re-read every round,
  and the others in rotation with the rest: every ``period`` minutes (at most a third longer than a uniform
  rotation at that pace), the guarantee shown on the account page.

*Order.* Each minute the dispatcher may queue one slice per resource (at most ``SYNC_REREAD_SLICE_PAGES``
pages, by the mirror's counts): the most overdue part of the window, newest first among equals. A part is
due ``lead`` (a twelfth of its period) before its period has passed since it was read, so that reading all
that falls due together still ends within the period. ``manage.py sync_account ACC --reread`` reads one
round's worth at once.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import BigIntegerField, Count, F, Q, Sum, Value, Window
from django.db.models.functions import RowNumber

from .models import SyncKind, SyncRun, SyncSchedule, SyncState
from .resources import RESOURCES, Resource

REASON = "beat-dispatch"  # the re-read's reads run for the dispatcher, by account id
Piece = tuple[datetime, datetime, datetime | None]  # (start, end, read_at or None: never read)

#: Adjacent coverage parts read this close together are merged (keeping the older time).
MERGE_WITHIN = timedelta(minutes=2)
TICK = timedelta(minutes=1)  # the dispatcher's cadence


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def windowed_resources() -> list[Resource]:
    return [r for r in RESOURCES if r.window is not None]


# ------------------------------------------------------------------------------------------- coverage
def _load(coverage: list) -> list[Piece]:
    out = []
    for item in coverage or []:
        try:
            start, end, read_at = (datetime.fromisoformat(v) if v else None for v in item)
        except (TypeError, ValueError):
            continue
        if start is not None and end is not None and start <= end:
            out.append((start, end, read_at))
    return sorted(out, key=lambda p: p[0])


def _dump(pieces: list[Piece]) -> list[list[str | None]]:
    return [[a.isoformat(), b.isoformat(), r.isoformat() if r else None] for a, b, r in pieces]


def coverage_add(
    coverage: list, start: datetime, end: datetime, read_at: datetime, *, floor: datetime | None = None
) -> list:
    """The coverage after ``[start, end]`` was listed at ``read_at`` (older parts beyond ``floor`` dropped)."""
    pieces: list[Piece] = []
    for a, b, r in _load(coverage):
        if b < start or a > end:
            pieces.append((a, b, r))
            continue
        if a < start:
            pieces.append((a, start, r))
        if b > end:
            pieces.append((end, b, r))
    pieces.append((start, end, read_at))
    pieces.sort(key=lambda p: p[0])
    merged: list[Piece] = []
    for a, b, r in pieces:
        if floor is not None:
            if b < floor:
                continue
            a = max(a, floor)
        if merged:
            pa, pb, pr = merged[-1]
            close = pr is not None and r is not None and abs(pr - r) <= MERGE_WITHIN
            if close and a <= pb + timedelta(seconds=1):
                merged[-1] = (pa, max(pb, b), min(pr, r))
                continue
        merged.append((a, b, r))
    return _dump(merged)


def coverage_pieces(coverage: list, floor: datetime, top: datetime) -> list[Piece]:
    """The window ``[floor, top]`` cut into the coverage's parts, gaps as never read."""
    out: list[Piece] = []
    cursor = floor
    for a, b, r in _load(coverage):
        if b < floor or a > top:
            continue
        a, b = max(a, floor), min(b, top)
        if a > cursor:
            out.append((cursor, a, None))
        out.append((a, b, r))
        cursor = max(cursor, b)
    if cursor < top:
        out.append((cursor, top, None))
    return out


# ----------------------------------------------------------------------------------------------- plan
@dataclass
class ResourcePlan:
    resource: str
    records: int
    pages: int
    hot_since: datetime | None = None  # records from this time on are re-read every round (None: all)


@dataclass
class RereadPlan:
    """How fast the re-read goes for one account, and what it guarantees."""

    pace_per_hour: int  # background requests per hour the budget paces to
    reserved_per_hour: int  # spent per hour by the rest of the schedule
    reread_per_hour: int  # left for the re-read
    round_minutes: int
    pages: int  # one whole rotation
    period_minutes: int | None  # every record re-read within this (None: no budget left for it)
    resources: dict[str, ResourcePlan] = field(default_factory=dict)
    hot_pages: int = 0  # of those, the newest ones re-read every round

    @property
    def hot_since(self) -> datetime | None:
        calls = self.resources.get("calls")
        return calls.hot_since if calls else None

    @property
    def requests_per_hour(self) -> int:
        """What the re-read spends an hour at this plan: the newest pages every round, the others every period."""
        if self.period_minutes is None:
            return 0
        spent = self.hot_pages * 60 / self.round_minutes + (self.pages - self.hot_pages) * 60 / self.period_minutes
        return min(self.reread_per_hour, math.ceil(spent))

    def period_for(self, resource: str, start: datetime) -> int:
        plan = self.resources[resource]
        hot = plan.hot_since is None or start >= plan.hot_since
        return self.round_minutes if hot else (self.period_minutes or self.round_minutes)


def _floor(account: Any, now: datetime) -> datetime:
    from zoneinfo import ZoneInfo

    from .engine import retention_start

    try:
        tz = ZoneInfo(account.time_zone or "UTC")
    except (ValueError, KeyError):
        tz = ZoneInfo("UTC")
    return retention_start(now, tz, account.agency.retention_months)


def _rows(account_ids: Sequence[int], resource: Resource):
    """The resource's live records of these accounts (the re-read's own reads: unscoped, by account id)."""
    rows = resource.model.objects.unscoped(reason=REASON).filter(client_account_id__in=list(account_ids)).live()
    if resource.name == "calls":
        rows = rows.filter(spam=False)  # CallRail leaves spam out of the call log
    return rows


@dataclass
class PlanInputs:
    """What ``reread_plan`` reads of one account."""

    reserved_per_hour: int  # background requests per hour the rest of the schedule spends
    records: dict[str, int]  # per windowed resource, its records within the retention window


def plan_inputs(
    accounts: Sequence[Any], *, now: datetime, schedules: dict[int, SyncSchedule] | None = None
) -> dict[int, PlanInputs]:
    """``reread_plan``'s reads for many accounts at once: a fixed number of queries (the schedules unless
    given, two for what the rest of the schedule spends, one per windowed resource for the record counts).

    Reserved: the rest of the schedule's last day, or at least an estimate of the incrementals (the average
    of their last five runs within two days, every ``incremental_every_minutes``)."""
    ids = [a.pk for a in accounts]
    if schedules is None:
        schedules = {s.client_account_id: s for s in
                     SyncSchedule.objects.unscoped(reason=REASON).filter(client_account_id__in=ids)}  # fmt: skip
    runs = (SyncRun.objects.unscoped(reason=REASON).filter(client_account_id__in=ids, lane="background")
            .exclude(kind=SyncKind.REREAD).order_by())  # fmt: skip
    spent = dict(runs.filter(finished_at__gte=now - timedelta(days=1)).values("client_account_id")
                 .annotate(total=Sum("requests")).values_list("client_account_id", "total"))  # fmt: skip
    newest = Window(RowNumber(), partition_by=[F("client_account_id")], order_by=F("finished_at").desc())
    recent: dict[int, list[int]] = {}
    for pk, requests in (
        runs.filter(kind=SyncKind.INCREMENTAL, finished_at__gte=now - timedelta(days=2))
        .annotate(rank=newest).filter(rank__lte=5).values_list("client_account_id", "requests")
    ):  # fmt: skip
        recent.setdefault(pk, []).append(requests)
    floors: dict[datetime, list[int]] = {}
    for account in accounts:
        floors.setdefault(_floor(account, now), []).append(account.pk)
    records: dict[int, dict[str, int]] = {pk: {} for pk in ids}
    for resource in windowed_resources():
        column = resource.window.column
        within = [Q(client_account_id__in=pks, **{f"{column}__gte": floor, f"{column}__lte": now})
                  for floor, pks in floors.items()]  # fmt: skip
        counted = _rows(ids, resource).filter(reduce(operator.or_, within)).order_by().values("client_account_id")
        for pk, count in counted.annotate(n=Count("pk")).values_list("client_account_id", "n"):
            records[pk][resource.name] = count
    out = {}
    for pk in ids:
        schedule = schedules.get(pk)
        per_run = sum(recent[pk]) / len(recent[pk]) if recent.get(pk) else len(RESOURCES) + 2
        every = max(1, schedule.incremental_every_minutes if schedule else 10)
        reserved = math.ceil(max((spent.get(pk) or 0) / 24, per_run * 60 / every))
        counts = {r.name: records[pk].get(r.name, 0) for r in windowed_resources()}
        out[pk] = PlanInputs(reserved, counts)
    return out


def reread_plan(account: Any, *, now: datetime, inputs: PlanInputs | None = None) -> RereadPlan:
    """The account's re-read pace and guarantee; ``inputs`` when read already for many (``plan_inputs``)."""
    from apps.callrail.budget import get_budget

    per_page = int(setting("SYNC_PER_PAGE", 250))
    round_minutes = int(setting("SYNC_REREAD_ROUND_MINUTES", 60))
    floor = _floor(account, now)
    budget = get_budget()
    pace = budget.caps("general", "background", getattr(account, "budget_overrides", None) or None).hour
    inputs = inputs or plan_inputs([account], now=now)[account.pk]
    reserved = inputs.reserved_per_hour
    left = max(0, pace - reserved)
    resources: dict[str, ResourcePlan] = {}
    for name, count in inputs.records.items():
        resources[name] = ResourcePlan(name, count, math.ceil(count / per_page) + 1)
    pages = sum(p.pages for p in resources.values())
    per_round = left * round_minutes / 60
    period: int | None
    hot = pages
    if left <= 0:
        period, hot = None, 0
    elif pages <= per_round:
        period = round_minutes
    else:
        hot = int(per_round // 4)
        for plan in resources.values():
            share = hot * plan.pages // pages
            plan.hot_since = _newest_since(account, plan.resource, share * per_page, floor)
        cold_per_hour = left - hot * 60 / round_minutes
        period = math.ceil((pages - hot) / cold_per_hour * 60 / 5) * 5
    return RereadPlan(pace, reserved, left, round_minutes, pages, period, resources, hot)


def _newest_since(account: Any, resource_name: str, records: int, floor: datetime) -> datetime:
    """The time from which the ``records`` newest records start (``floor`` if there are fewer)."""
    from .resources import get_resource

    resource = get_resource(resource_name)
    column = resource.window.column
    if records <= 0:
        return datetime.max.replace(tzinfo=floor.tzinfo)
    found = (
        _rows([account.pk], resource).filter(**{f"{column}__gte": floor}).order_by(f"-{column}")
        .values_list(column, flat=True)[records - 1 : records]
    )  # fmt: skip
    return next(iter(found), None) or floor


# ------------------------------------------------------------------------------------------- schedule
def slice_starts(parts: dict[tuple[int, str], tuple[datetime, datetime]], records: int) -> dict[tuple, datetime]:
    """For each ``(account id, resource) -> (start, end)``, the start of the newest part of it holding at most
    ``records`` mirrored records: one query per resource (a UNION ALL of each part's one-row look-up)."""
    out: dict[tuple, datetime] = {}
    for resource in windowed_resources():
        column = resource.window.column
        mine = [(pk, start, end) for (pk, name), (start, end) in parts.items() if name == resource.name]
        lookups = [
            _rows([pk], resource).filter(**{f"{column}__gte": start, f"{column}__lte": end})
            .order_by(f"-{column}").annotate(account=Value(pk, output_field=BigIntegerField()))
            .values_list("account", column)[records : records + 1]
            for pk, start, end in mine
        ]  # fmt: skip
        if connection.features.supports_slicing_ordering_in_compound:
            found = dict(lookups[0].union(*lookups[1:], all=True)) if lookups else {}
        else:  # SQLite (the embedded default) refuses LIMIT inside a UNION: one look-up each
            found = dict(row for lookup in lookups for row in lookup)
        for pk, start, _ in mine:
            moment = found.get(pk)
            later = start if moment is None else moment.replace(microsecond=0) + timedelta(seconds=1)
            out[(pk, resource.name)] = max(start, later)
    return out


def _slice(account: Any, resource: Resource, start: datetime, end: datetime, records: int) -> datetime:
    """The start of the newest part of ``[start, end]`` holding at most ``records`` mirrored records."""
    return slice_starts({(account.pk, resource.name): (start, end)}, records)[(account.pk, resource.name)]


def _split_hot(pieces: list[Piece], hot_since: datetime | None) -> list[Piece]:
    if hot_since is None:
        return pieces
    out = []
    for a, b, r in pieces:
        if a < hot_since < b:
            out += [(a, hot_since, r), (hot_since, b, r)]
        else:
            out.append((a, b, r))
    return out


def _top(state: SyncState | None) -> datetime | None:
    """Records newer than the last completed pass are the incremental sync's (and webhooks') to fetch."""
    return state.cursor if state is not None else None


def reread_due(account: Any, *, now: datetime, plan: RereadPlan, states: dict[str, SyncState]) -> dict:
    """The part of each resource's window due to be re-read now (``{resource: (start, end)}``): the most
    overdue, the newest among equals. From the plan and the sync states alone: no query."""
    if plan.period_minutes is None:
        return {}
    floor = _floor(account, now)
    due: dict[str, tuple[datetime, datetime]] = {}
    for resource in windowed_resources():
        state = states.get(resource.name)
        top = _top(state)
        if top is None or top <= floor or (state and state.checkpoint):
            continue  # never synced yet, or a pass of it is unfinished (it resumes first)
        pieces = _split_hot(coverage_pieces(state.coverage, floor, top), plan.resources[resource.name].hot_since)
        best, best_key = None, None
        for a, b, read_at in pieces:
            period = timedelta(minutes=plan.period_for(resource.name, a))
            lead = max(TICK, period / 12)
            if read_at is not None and now - read_at < period - lead:
                continue
            overdue = math.inf if read_at is None else (now - read_at) / period
            key = (overdue, b)  # the most overdue, the newest among equals
            if best_key is None or key > best_key:
                best, best_key = (a, b), key
        if best is not None:
            due[resource.name] = best
    return due


def reread_windows(due: dict[int, dict[str, tuple[datetime, datetime]]]) -> dict[int, dict[str, list[list[str]]]]:
    """The runs' windows (account pk -> resource -> ``[[start, end]]``) for the parts due (account pk ->
    resource -> ``(start, end)``): each part's newest ``SYNC_REREAD_SLICE_PAGES`` pages (``slice_starts``)."""
    records = int(setting("SYNC_REREAD_SLICE_PAGES", 10)) * int(setting("SYNC_PER_PAGE", 250))
    starts = slice_starts({(pk, name): part for pk, parts in due.items() for name, part in parts.items()}, records)
    return {
        pk: {name: [[starts[(pk, name)].isoformat(), end.isoformat()]] for name, (_, end) in parts.items()}
        for pk, parts in due.items()
    }


def reread_next(account: Any, *, now: datetime, plan: RereadPlan | None = None) -> dict[str, list[list[str]]]:
    """The slice each resource is due to re-read now (``{resource: [[start, end]]}``; empty: nothing due)."""
    plan = plan or reread_plan(account, now=now)
    states = {s.resource: s for s in SyncState.objects.for_account(account)}
    return reread_windows({account.pk: reread_due(account, now=now, plan=plan, states=states)})[account.pk]


def reread_may_be_due(accounts: Sequence[Any], *, now: datetime) -> dict[int, dict[str, SyncState]]:
    """The accounts (of ``accounts``) for which ``reread_next`` may find a slice due now, with their windowed
    resources' sync states, from those states alone: one query for all of them. Never leaves out an account
    that has a slice due: a part can only be due once ``P - lead`` has passed since it was read, and no
    part's period ``P`` is shorter than three quarters of a round (``reread_plan``: hot parts a round, cold
    ones over ¾ of it)."""
    round_minutes = int(setting("SYNC_REREAD_ROUND_MINUTES", 60))
    shortest = timedelta(minutes=round_minutes * 3 / 4)
    due_before = now - (shortest - max(TICK, shortest / 12))
    by_pk = {a.pk: a for a in accounts}
    states: dict[int, dict[str, SyncState]] = {}
    for state in SyncState.objects.unscoped(reason=REASON).filter(
        client_account_id__in=list(by_pk), resource__in=[r.name for r in windowed_resources()]
    ).only("client_account_id", "resource", "cursor", "checkpoint", "coverage"):  # fmt: skip
        states.setdefault(state.client_account_id, {})[state.resource] = state
    floors: dict[tuple, datetime] = {}  # the retention floor, by time zone and agency retention
    maybe: dict[int, dict[str, SyncState]] = {}
    for pk, mine in states.items():
        account = by_pk[pk]
        key = (account.time_zone, account.agency.retention_months)
        floor = floors[key] if key in floors else floors.setdefault(key, _floor(account, now))
        for state in mine.values():
            top = state.cursor
            if top is None or top <= floor or state.checkpoint:
                continue  # as reread_next: never synced yet, or a pass of it is unfinished
            if any(r is None or r <= due_before for _, _, r in coverage_pieces(state.coverage, floor, top)):
                maybe[pk] = mine
                break
    return maybe


def reread_round(account: Any, *, now: datetime, plan: RereadPlan | None = None) -> dict[str, list[list[str]]]:
    """One round's worth of re-reading at once (``sync_account --reread``): the newest part of each resource
    that is re-read every round, and the least recently read older parts the round's budget holds; for an
    account within the round's budget, everything."""
    plan = plan or reread_plan(account, now=now)
    per_page = int(setting("SYNC_PER_PAGE", 250))
    floor = _floor(account, now)
    states = {s.resource: s for s in SyncState.objects.for_account(account)}
    windows: dict[str, list[list[str]]] = {}
    spare = plan.reread_per_hour * plan.round_minutes / 60 - plan.hot_pages  # the round's pages beyond the newest
    for resource in windowed_resources():
        state = states.get(resource.name)
        top = _top(state) or now
        hot_since = plan.resources[resource.name].hot_since
        if hot_since is None:
            windows[resource.name] = [[floor.isoformat(), top.isoformat()]]
            continue
        chosen = [[hot_since.isoformat(), top.isoformat()]]
        cold = [p for p in coverage_pieces(state.coverage if state else [], floor, hot_since) if p[1] > p[0]]
        cold.sort(key=lambda p: (p[2] is not None, p[2] or now))  # never read first, then the oldest read
        budget = int(spare * plan.resources[resource.name].pages / max(1, plan.pages))
        column = resource.window.column
        for a, b, _ in cold:
            if budget <= 0:
                break
            start = _slice(account, resource, a, b, budget * per_page)  # the newest part the budget holds
            count = _rows([account.pk], resource).filter(**{f"{column}__gte": start, f"{column}__lte": b}).count()
            chosen.append([start.isoformat(), b.isoformat()])
            budget -= math.ceil(count / per_page) or 1
        windows[resource.name] = chosen
    return windows


def coverage_record(state: SyncState, start: datetime, end: datetime, read_at: datetime, floor: datetime) -> None:
    """Called by the engine when a pass over ``[start, end]`` completes (in its transaction)."""
    state.coverage = coverage_add(state.coverage, start, end, read_at, floor=floor)


def oldest_read(account: Any, *, now: datetime) -> datetime | None:
    """When the least recently re-read part of any resource's window was read (None: a part never was)."""
    floor = _floor(account, now)
    oldest: datetime | None = now
    for state in SyncState.objects.for_account(account).filter(resource__in=[r.name for r in windowed_resources()]):
        top = _top(state)
        if top is None:
            continue
        for _, _, read_at in coverage_pieces(state.coverage, floor, top):
            if read_at is None:
                return None
            oldest = min(oldest, read_at)
    return oldest


def describe_plan(plan: RereadPlan) -> str:
    """One line for people: the guarantee and what it costs."""
    if plan.period_minutes is None:
        return (f"no background budget left for the re-read ({plan.reserved_per_hour} of {plan.pace_per_hour} "
                "requests an hour go to the other syncs)")  # fmt: skip
    line = f"every call re-checked within {plan.period_minutes} minutes"
    if plan.hot_since is not None:
        line += f" (the newest, since {plan.hot_since:%Y-%m-%d %H:%M} UTC, within {plan.round_minutes})"
    return (f"{line}; {plan.pages} pages a rotation, about {plan.requests_per_hour} requests an hour of the "
            f"{plan.reread_per_hour} the background pace leaves over")  # fmt: skip
