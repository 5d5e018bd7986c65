"""Prometheus exposition of what the UI shows, read from PostgreSQL and Redis at scrape time.

A custom collector (no process-global counters), so every gunicorn worker answers a scrape with the same,
complete figures. Per-account series carry ``agency`` (slug), ``account`` (the portal's id) and
``callrail_account`` (the ACC… id) — never a key or any secret.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from django.db.models import QuerySet
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from .selectors import account_figures, last_heartbeat, queue_depths

ACCOUNT_LABELS = ["agency", "account", "callrail_account"]
PREFIX = "agency_portal"


def operator_scope(model: type) -> QuerySet:
    """Every row: the scrape is an operator's view of the whole installation (token or superuser only)."""
    return model.objects.unscoped(reason="metrics")


class PortalCollector(Collector):
    """Collects per-account budget, sync, outbox and webhook figures plus Celery queue depths."""

    def __init__(self, scope: Callable[[type], QuerySet] = operator_scope) -> None:
        self.scope = scope

    def collect(self) -> Iterator:
        g = {
            "hour": GaugeMetricFamily(
                f"{PREFIX}_callrail_requests_hour",
                "CallRail requests spent in the sliding hour, per limit class.",
                labels=[*ACCOUNT_LABELS, "limit_class"],
            ),
            "day": GaugeMetricFamily(
                f"{PREFIX}_callrail_requests_day",
                "CallRail requests spent in the sliding 24 hours, per limit class.",
                labels=[*ACCOUNT_LABELS, "limit_class"],
            ),
            "hour_limit": GaugeMetricFamily(
                f"{PREFIX}_callrail_budget_hour_limit",
                "The portal's own hourly ceiling (CallRail's limit times the safety share).",
                labels=[*ACCOUNT_LABELS, "limit_class"],
            ),
            "day_limit": GaugeMetricFamily(
                f"{PREFIX}_callrail_budget_day_limit",
                "The portal's own daily ceiling (CallRail's limit times the safety share).",
                labels=[*ACCOUNT_LABELS, "limit_class"],
            ),
            "r429_day": GaugeMetricFamily(
                f"{PREFIX}_callrail_rate_limited_day",
                "429 answers from CallRail in the last 24 hours (budget events).",
                labels=ACCOUNT_LABELS,
            ),
            "deferred": GaugeMetricFamily(
                f"{PREFIX}_callrail_budget_deferred_hour",
                "Requests the budget refused (not sent) in the current hour window.",
                labels=ACCOUNT_LABELS,
            ),
            "blocked": GaugeMetricFamily(
                f"{PREFIX}_callrail_budget_blocked",
                "1 while a 429 blocks the account (or one of its limit classes).",
                labels=ACCOUNT_LABELS,
            ),
            "degraded": GaugeMetricFamily(
                f"{PREFIX}_callrail_budget_degraded",
                "1 while this process counts the budget locally because Redis is unreachable.",
                labels=ACCOUNT_LABELS,
            ),
            "lag": GaugeMetricFamily(
                f"{PREFIX}_sync_lag_seconds",
                "Seconds since the account's last successful sync run finished (absent: never).",
                labels=ACCOUNT_LABELS,
            ),
            "last_success": GaugeMetricFamily(
                f"{PREFIX}_sync_last_success_timestamp_seconds",
                "When the account's last successful sync run finished (Unix time).",
                labels=ACCOUNT_LABELS,
            ),
            "outbox": GaugeMetricFamily(
                f"{PREFIX}_outbox_entries",
                "Outbox entries by status.",
                labels=[*ACCOUNT_LABELS, "status"],
            ),
            "outbox_depth": GaugeMetricFamily(
                f"{PREFIX}_outbox_depth",
                "Edits still to be sent to CallRail (pending and in flight).",
                labels=ACCOUNT_LABELS,
            ),
            "webhooks": GaugeMetricFamily(
                f"{PREFIX}_webhook_events_last_hour",
                "Webhook deliveries received in the last hour, accepted (signed) or rejected.",
                labels=[*ACCOUNT_LABELS, "result"],
            ),
        }
        c_429 = CounterMetricFamily(
            f"{PREFIX}_sync_rate_limited",
            "429 answers recorded on the account's sync runs.",
            labels=ACCOUNT_LABELS,
        )
        c_requests = CounterMetricFamily(
            f"{PREFIX}_sync_requests",
            "CallRail requests recorded on the account's sync runs.",
            labels=ACCOUNT_LABELS,
        )
        key_labels = ["agency", "credential", "limit_class"]
        k = {
            "hour": GaugeMetricFamily(f"{PREFIX}_callrail_key_requests_hour",
                                      "Requests a credential's key spent in the sliding hour (all its accounts).",
                                      labels=key_labels),
            "day": GaugeMetricFamily(f"{PREFIX}_callrail_key_requests_day",
                                     "Requests a credential's key spent in the sliding 24 hours (all its accounts).",
                                     labels=key_labels),
            "hour_limit": GaugeMetricFamily(f"{PREFIX}_callrail_key_budget_hour_limit",
                                            "The key's own hourly ceiling (budget per key).", labels=key_labels),
            "blocked": GaugeMetricFamily(f"{PREFIX}_callrail_key_budget_blocked",
                                         "1 while a 429 holds back every account of the key.",
                                         labels=["agency", "credential"]),
        }  # fmt: skip
        keys_seen: set[str] = set()
        for fig in account_figures(self.scope, with_last_run=False):  # (the system page's column, not a series)
            account = fig.account
            labels = [account.agency.slug, str(account.pk), account.callrail_account_id]
            budget = fig.budget
            if budget is not None and budget.key is not None and budget.key.account_key not in keys_seen:
                keys_seen.add(budget.key.account_key)
                credential = [account.agency.slug, str(account.credential_id)]
                for cls in budget.key.classes:
                    k["hour"].add_metric([*credential, cls.limit_class], cls.hour_spent)
                    k["day"].add_metric([*credential, cls.limit_class], cls.day_spent)
                    k["hour_limit"].add_metric([*credential, cls.limit_class], cls.hour_limit)
                k["blocked"].add_metric(credential, 1 if budget.key.blocked else 0)
            if budget is not None:
                for cls in budget.classes:
                    g["hour"].add_metric([*labels, cls.limit_class], cls.hour_spent)
                    g["day"].add_metric([*labels, cls.limit_class], cls.day_spent)
                    g["hour_limit"].add_metric([*labels, cls.limit_class], cls.hour_limit)
                    g["day_limit"].add_metric([*labels, cls.limit_class], cls.day_limit)
                g["r429_day"].add_metric(labels, budget.rate_limited_day)
                g["deferred"].add_metric(labels, budget.deferred)
                g["blocked"].add_metric(labels, 1 if budget.blocked else 0)
                g["degraded"].add_metric(labels, 1 if budget.degraded else 0)
            if fig.last_success_at is not None:
                g["lag"].add_metric(labels, max(0.0, fig.sync_lag.total_seconds()))
                g["last_success"].add_metric(labels, fig.last_success_at.timestamp())
            for status, count in sorted(fig.outbox.items()):
                g["outbox"].add_metric([*labels, status], count)
            g["outbox_depth"].add_metric(labels, fig.outbox_depth)
            for result in ("accepted", "rejected"):
                g["webhooks"].add_metric([*labels, result], fig.webhooks_last_hour.get(result, 0))
            c_429.add_metric(labels, fig.rate_limited_total)
            c_requests.add_metric(labels, fig.requests_total)
        yield from g.values()
        yield from k.values()
        yield c_429
        yield c_requests

        queues = GaugeMetricFamily(
            f"{PREFIX}_celery_queue_length", "Messages waiting in each Celery queue.", labels=["queue"]
        )
        for name, depth in queue_depths().items():
            if depth is not None:
                queues.add_metric([name], depth)
        yield queues
        beat = last_heartbeat()
        heartbeat = GaugeMetricFamily(
            f"{PREFIX}_beat_heartbeat_timestamp_seconds",
            "When a worker last ran beat's core.heartbeat task (Unix time; absent: never).",
        )
        if beat is not None:
            heartbeat.add_metric([], beat.timestamp())
        yield heartbeat


def render_metrics(scope: Callable[[type], QuerySet] = operator_scope) -> bytes:
    """The exposition text of one scrape (nothing is kept between scrapes), in Prometheus's text format."""
    return exposition(PortalCollector(scope).collect())


def _escape_value(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _value(value: float) -> str:
    """``floatToGoString``, with its answer for the small whole numbers most samples are written directly."""
    if type(value) is int and 0 <= value < 1_000_000:  # (a bool takes the long way)
        return f"{value}.0"
    return floatToGoString(value)


def exposition(families: Iterable[Metric]) -> bytes:
    """Prometheus's text format (0.0.4) of ``families``, as ``prometheus_client.generate_latest`` writes it for
    these gauges and counters. Written here because the library's per-sample name validation and escaping cost
    about 45 µs a line: 1.5 s of a 1,000-account scrape's 33,000 lines. Label names are this module's own
    (valid names, nothing to escape); label values are escaped."""
    out: list[str] = []
    rendered: dict[tuple, str] = {}  # an account's label set recurs in many families: escaped and sorted once
    for family in families:
        name = family.name + "_total" if family.type == "counter" else family.name
        help_text = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {name} {help_text}\n# TYPE {name} {family.type}\n")
        for sample in family.samples:
            if sample.labels:
                key = tuple(sample.labels.items())
                labels = rendered.get(key)
                if labels is None:
                    labels = rendered[key] = ",".join(f'{k}="{_escape_value(v)}"' for k, v in sorted(key))
                out.append(f"{sample.name}{{{labels}}} {_value(sample.value)}\n")
            else:
                out.append(f"{sample.name} {_value(sample.value)}\n")
    return "".join(out).encode()
