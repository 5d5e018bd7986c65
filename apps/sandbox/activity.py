"""Activity: new calls, later changes to existing calls, deletions, texts and form submissions.

Used by the control plane (``POST /_sandbox/activity``), by ``SandboxState.generate_activity`` and by the
optional background ticker, so that incremental sync and webhooks have something to find. Each change
fires the webhook CallRail would send.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .resources import call_webhook_payload, form_webhook_payload, text_webhook_payload

if TYPE_CHECKING:
    from .state import SandboxState
    from .store import AccountData

MODIFICATIONS = ("recording", "tags", "lead_status", "note", "value", "transcription")


def generate(
    state: SandboxState,
    *,
    account_id: str | None = None,
    new_calls: int = 0,
    modified_calls: int = 0,
    deleted_calls: int = 0,
    text_messages: int = 0,
    form_submissions: int = 0,
    complete_outbound: bool = True,
    modify_within_days: float = 7.0,
) -> dict[str, Any]:
    """Make activity happen now in one account (or each account). Returns what changed, by account."""
    targets = [state.accounts[account_id]] if account_id else list(state.accounts.values())
    report: dict[str, Any] = {}
    for acc in targets:
        synth = state.synths.get(acc.id)
        if synth is None or not acc.trackers:
            report[acc.id] = {"new_calls": [], "modified_calls": [], "deleted_calls": [], "text_messages": [],
                              "form_submissions": [], "completed_outbound_calls": []}
            continue
        ctx = state.system_ctx(acc)
        report[acc.id] = {
            "completed_outbound_calls": _complete_outbound(state, acc, ctx) if complete_outbound else [],
            "new_calls": [_new_call(state, acc, ctx, synth) for _ in range(max(0, new_calls))],
            "modified_calls": _modify(state, acc, ctx, synth, modified_calls, modify_within_days),
            "deleted_calls": _delete(state, acc, synth, deleted_calls, modify_within_days),
            "text_messages": [_text(state, acc, ctx, synth) for _ in range(max(0, text_messages))],
            "form_submissions": [_form(state, acc, ctx, synth) for _ in range(max(0, form_submissions))],
        }
    return report


def _active_trackers(acc: AccountData) -> list[dict]:
    return [t for t in acc.trackers.values() if t["status"] == "active"]


def _new_call(state: SandboxState, acc: AccountData, ctx, synth) -> str:
    trackers = _active_trackers(acc)
    tracker = synth.rng.choice(trackers) if trackers else None
    duration_guess = synth.rng.randint(30, 400)
    start = ctx.now - timedelta(seconds=duration_guess + synth.rng.randint(5, 90))
    call = synth.make_call(round(start.timestamp(), 3), tracker=tracker, direction="inbound")
    call.created = start + timedelta(milliseconds=120)
    state.add_call(acc, call)
    for event in ("pre_call_webhook", "answered_call_webhook", "post_call_webhook"):
        if event == "answered_call_webhook" and not call.answered:
            continue
        state.emit(acc, call.company_id, event, call_webhook_payload(ctx, call), call=call)
    return call.id


def _recent(acc: AccountData, ctx, days: float) -> list:
    return acc.calls.between((ctx.now - timedelta(days=days)).timestamp(), ctx.now.timestamp())


def _modify(state: SandboxState, acc: AccountData, ctx, synth, count: int, days: float) -> list[dict]:
    rng = synth.rng
    candidates = [c for c in _recent(acc, ctx, days) if c.direction == "inbound" and not c.in_progress]
    out = []
    for call in rng.sample(candidates, k=min(max(count, 0), len(candidates))):
        changes = []
        kinds = [k for k in MODIFICATIONS if not (k == "recording" and (call.recording_key or not call.answered))]
        kind = rng.choice(kinds)
        if kind == "tags" and not _tag_pool(acc, call):
            kind = "note"  # every modification really changes the call (no tag left to add)
        if kind == "recording":
            call.recording_key = f"{rng.getrandbits(80):020x}"
            call.recording_duration = call.duration
            changes = ["recording", "recording_duration"]
        elif kind == "tags":
            call.tag_ids = [*call.tag_ids, rng.choice(_tag_pool(acc, call))]
            changes = ["tags"]
        elif kind == "lead_status":
            call.lead_status = "not_a_lead" if call.lead_status == "good_lead" else "good_lead"
            changes = ["lead_status"]
        elif kind == "note":
            call.note = rng.choice([n for n in synth.bp.notes if n != call.note] or [f"{call.note} (again)"])
            changes = ["note"]
        elif kind == "value":
            low, high = synth.bp.value_range
            call.value = float(rng.choice([v for v in range(low, high + 1) if v != call.value] or [high + 1]))
            changes = ["value"]
        else:
            summary = rng.choice([x for x in synth.bp.summaries if x != call.call_summary] or ["Follow-up call."])
            call.transcription = f"Agent: Thanks for calling, how can I help? Caller: {summary}"
            call.call_summary = summary
            changes = ["transcription_text", "call_summary"]
        state.emit(acc, call.company_id, "updated_call_webhook", call_webhook_payload(ctx, call, changes), call=call)
        out.append({"id": call.id, "changes": changes})
    return out


def _tag_pool(acc: AccountData, call: Any) -> list[str]:
    """Enabled tags of the call's company (or the account) it does not carry yet."""
    return [t["id"] for t in acc.tags.values()
            if t["status"] == "enabled" and t["company_id"] in (call.company_id, None)
            and t["id"] not in call.tag_ids]  # fmt: skip


def _delete(state: SandboxState, acc: AccountData, synth, count: int, days: float) -> list[str]:
    ctx = state.system_ctx(acc)
    candidates = _recent(acc, ctx, max(days, 30))
    doomed = synth.rng.sample(candidates, k=min(max(count, 0), len(candidates)))
    for call in doomed:
        acc.calls.remove(call)
        acc.deleted_call_ids.append(call.id)
    return [c.id for c in doomed]


def _complete_outbound(state: SandboxState, acc: AccountData, ctx) -> list[str]:
    done = []
    for call in list(acc.calls.by_id.values()):
        if call.direction == "outbound" and call.in_progress:
            call.in_progress = False
            call.answered = True
            call.duration = max(1, int((ctx.now - call.start).total_seconds()))
            state.emit(acc, call.company_id, "post_outbound_call_webhook", call_webhook_payload(ctx, call), call=call)
            done.append(call.id)
    return done


def _text(state: SandboxState, acc: AccountData, ctx, synth) -> str | None:
    trackers = [t for t in _active_trackers(acc) if t["sms_enabled"]]
    if not trackers:
        return None
    tracker = synth.rng.choice(trackers)
    person = synth.customer(tracker["_company_id"], repeat_share=0.4)
    from .seed import _MESSAGES_IN

    conv = state.add_text_message(
        acc, tracker["_company_id"], tracker, tracker["tracking_numbers"][0], person["phone"],
        synth.rng.choice(_MESSAGES_IN), "incoming", ctx.now, customer_name=person["caller_id"], rng=synth.rng,
    )
    state.emit(acc, tracker["_company_id"], "sms_received_webhook", text_webhook_payload(ctx, conv, outgoing=False))
    return conv["id"]


def _form(state: SandboxState, acc: AccountData, ctx, synth) -> str:
    company_id = synth.rng.choice(list(acc.companies))
    form_data, extra = synth.form_fields(company_id)
    form = state.new_form_submission(acc, company_id, form_data, submitted=ctx.now, rng=synth.rng, **extra)
    state.emit(acc, company_id, "form_captured_webhook", form_webhook_payload(ctx, form))
    return form["id"]


class ActivityTicker:
    """Generates a little activity in every account every ``interval`` seconds until stopped."""

    def __init__(self, state: SandboxState, interval: float):
        self.state = state
        self.interval = float(interval)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-activity", daemon=True)

    def start(self) -> ActivityTicker:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self.state.lock:
                rng = self.state.rng
                generate(
                    self.state,
                    new_calls=rng.randint(0, 3),
                    modified_calls=rng.randint(0, 2),
                    text_messages=1 if rng.random() < 0.3 else 0,
                    form_submissions=1 if rng.random() < 0.25 else 0,
                )

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
