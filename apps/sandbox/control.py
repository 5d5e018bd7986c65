"""The control plane under ``/_sandbox/…``: JSON endpoints that let tests and the demo, from any process,
reset the sandbox, switch faults and rate limits, make activity happen, configure webhooks and read state.

Also serves the little public assets the API links to (recordings, the recording player, waveforms,
timelines), which real CallRail serves from app.callrail.com.
"""

from __future__ import annotations

import json
import struct
import zlib
from html import escape
from typing import Any

from werkzeug.wrappers import Request, Response

from . import keys
from .errors import ApiError
from .seed import DEMO_ACCOUNTS, PROFILES


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body, default=str), status=status, content_type="application/json; charset=utf-8")


def _silent_mp3(seconds: float) -> bytes:
    """MPEG-1 Layer III, 32 kbit/s, 44.1 kHz mono frames of silence (26.1 ms each)."""
    frame = b"\xff\xfb\x10\xc0" + b"\x00" * 100  # 104 bytes per frame at 32 kbit/s
    count = max(1, min(int(seconds / 0.026122), 23000))
    return frame * count


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00\x00\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


PNG = _png_1x1()


class ControlPlane:
    def __init__(self, state):
        self.state = state

    def handle(self, request: Request) -> Response:
        try:
            return self._handle(request)
        except ApiError as exc:
            return _json(exc.status, {"error": exc.message})
        except (ValueError, TypeError, KeyError) as exc:
            return _json(400, {"error": str(exc)})

    def _body(self, request: Request) -> dict:
        raw = request.get_data(cache=True)
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise ApiError(400, "The request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "The request body must be a JSON object")
        return data

    def _check_token(self, request: Request) -> None:
        token = getattr(self.state, "control_token", None)
        if token and request.headers.get("X-Sandbox-Token") != token:
            raise ApiError(401, "X-Sandbox-Token required for the control plane")

    def _handle(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p][1:]
        method = request.method.upper()
        # public assets linked from API responses
        if parts[:1] == ["calls"] and len(parts) >= 3:
            return self._call_asset(request, parts)
        if parts[:1] == ["recordings"] and len(parts) == 2:
            return self._recording(parts[1].removesuffix(".mp3"))
        if parts[:1] == ["people"] and len(parts) == 3 and parts[2] == "timeline":
            return self._timeline(parts[1])
        if parts in ([], ["health"]):
            return _json(200, {"ok": True})
        self._check_token(request)
        state = self.state
        route = "/".join(parts)
        if route == "info" and method == "GET":
            return _json(200, {**state.info(), "demo_accounts": [d.as_dict() for d in DEMO_ACCOUNTS]})
        if route == "reset" and method == "POST":
            body = self._body(request)
            profile = body.get("profile")
            if profile is not None and profile not in PROFILES:
                raise ApiError(400, f"profile must be one of {', '.join(PROFILES)}")
            info = state.reset(
                seed=body.get("seed"),
                profile=profile,
                calls_per_account=body.get("calls_per_account"),
                history_days=body.get("history_days"),
                accounts=body.get("accounts"),
                first_account_calls=body.get("first_account_calls"),
                webhook_url=body.get("webhook_url"),
                keep_limits=bool(body.get("keep_limits", False)),
            )
            return _json(200, info)
        if route == "faults":
            if method == "POST":
                state.faults.configure(**self._body(request))
            elif method == "DELETE":
                state.faults.reset()
            return _json(200, state.faults.describe())
        if route == "rate-limits":
            if method == "POST":
                body = self._body(request)
                if "time_scale" in body:
                    state.ratelimiter.set_time_scale(float(body["time_scale"]))
                state.ratelimiter.configure(body.get("limits"), body.get("account_id"), body.get("enabled"))
            return _json(200, state.ratelimiter.describe())
        if route == "clock/advance" and method == "POST":
            seconds = float(self._body(request).get("seconds", 0))
            if seconds < 0:
                raise ApiError(400, "seconds must not be negative")
            state.ratelimiter.advance(seconds)
            return _json(200, {"clock": state.ratelimiter.clock()})
        if route == "usage" and method == "GET":
            with state.lock:
                return _json(200, state.usage(request.args.get("account_id") or None))
        if route == "usage/reset" and method == "POST":
            state.ratelimiter.reset_usage()
            state.clear_request_log()
            return _json(200, {"ok": True})
        if route == "requests" and method == "GET":
            since = request.args.get("since")
            limit = request.args.get("limit")
            with state.lock:
                records = state.request_log(request.args.get("account_id") or None,
                                            float(since) if since else None, int(limit) if limit else None)
            return _json(200, {"requests": records})
        if route == "activity" and method == "POST":
            body = self._body(request)
            allowed = {"account_id", "new_calls", "modified_calls", "deleted_calls", "text_messages",
                       "form_submissions", "complete_outbound", "modify_within_days", "flush"}
            unknown = set(body) - allowed
            if unknown:
                raise ApiError(400, f"unknown activity settings: {', '.join(sorted(unknown))}")
            if body.get("account_id") and body["account_id"] not in state.accounts:
                raise ApiError(404, "Account not found")
            flush = body.pop("flush", True)
            report = state.generate_activity(**body)
            if flush:
                state.webhooks.flush(timeout=5.0)
            return _json(200, report)
        if route == "texts" and method == "POST":
            # A customer texts the business now (as CallRail receives it): {"account_id", "customer_phone_number",
            # "content", optional "tracking_number" (else the company's first SMS-enabled one), "company_id"}.
            body = self._body(request)
            acc = state.accounts.get(body.get("account_id") or "")
            if acc is None:
                raise ApiError(404, "Account not found")
            from .resources import text_webhook_payload

            with state.lock:
                trackers = [t for t in acc.trackers.values() if t["status"] == "active" and t["sms_enabled"]
                            and (not body.get("company_id") or t["_company_id"] == body["company_id"])
                            and (not body.get("tracking_number") or body["tracking_number"] in t["tracking_numbers"])]
                if not trackers:
                    raise ApiError(422, "no active SMS-enabled tracker matches")
                tracker = trackers[0]
                number = body.get("tracking_number") or tracker["tracking_numbers"][0]
                ctx = state.system_ctx(acc)
                conv = state.add_text_message(acc, tracker["_company_id"], tracker, number,
                                              body["customer_phone_number"], str(body.get("content") or ""),
                                              "incoming", ctx.now)  # fmt: skip
                state.emit(acc, tracker["_company_id"], "sms_received_webhook",
                           text_webhook_payload(ctx, conv, outgoing=False))  # fmt: skip
            if body.get("flush", True):
                state.webhooks.flush(timeout=5.0)
            return _json(200, {"conversation_id": conv["id"], "message_id": conv["messages"][-1]["id"]})
        if route == "webhooks":
            if method == "POST":
                body = self._body(request)
                if not body.get("url"):
                    raise ApiError(400, "url is required")
                configured = state.configure_webhooks(body["url"], body.get("account_id"), body.get("company_id"),
                                                      body.get("events"))
                return _json(200, {"integrations": configured})
            if method == "DELETE":
                state.webhooks.clear()
            return _json(200, {"enabled": state.webhooks.enabled})
        if route == "webhooks/deliveries" and method == "GET":
            event = request.args.get("event")
            items = [d.describe() for d in list(state.webhooks.deliveries) if not event or d.event == event]
            return _json(200, {"deliveries": items})
        if route == "webhooks/flush" and method == "POST":
            return _json(200, {"flushed": state.webhooks.flush(timeout=10.0)})
        if route == "events" and method == "GET":
            return _json(200, {"events": list(state.events)})
        if parts[:1] == ["accounts"] and len(parts) >= 2 and method == "GET":
            return self._account_state(parts[1:])
        answer = keys.handle_control(state, method, parts, self._body(request), request.args)  # keys, gateway
        if answer is not None:
            return _json(200, answer)
        raise ApiError(404, "Unknown control endpoint")

    def _account_state(self, parts: list[str]) -> Response:
        from . import resources as res

        state = self.state
        with state.lock:
            acc = state.accounts.get(parts[0])
            if acc is None:
                raise ApiError(404, "Account not found")
            if len(parts) == 1:
                return _json(200, {"counts": state.counts(acc.id), "deleted_call_ids": list(acc.deleted_call_ids)})
            endpoint = res.ENDPOINTS.get(parts[1])
            if endpoint is None or len(parts) != 3:
                raise ApiError(404, "Unknown resource")
            ctx = state.system_ctx(acc)
            record = endpoint.lookup(ctx, parts[2])
            spec = endpoint.spec
            return _json(200, spec.render(ctx, record, spec.default_fields + spec.extra_fields))

    # public assets -------------------------------------------------------------------------------------------
    def _find_call(self, call_id: str):
        """By ``CAL…`` id or by the numeric (legacy) id the recording URLs carry, as CallRail's do."""
        with self.state.lock:
            for acc in self.state.accounts.values():
                call = acc.calls.find(call_id)
                if call is not None:
                    return acc, call
        raise ApiError(404, "Recording not found")

    def _call_asset(self, request: Request, parts: list[str]) -> Response:
        call_id = parts[1]
        acc, call = self._find_call(call_id)
        if not call.recording_key:
            raise ApiError(404, "Recording not found")
        if parts[2:] == ["waveform.png"]:
            return Response(PNG, content_type="image/png")
        if request.args.get("access_key") != call.recording_key:
            raise ApiError(403, "Invalid access key")
        if parts[2:] == ["recording", "redirect"]:
            return Response(status=302, headers={"Location": f"/_sandbox/recordings/{call_id}.mp3"})
        if parts[2:] in (["recording"], ["player"]):  # the stand-alone player (docs: /calls/{id}/recording)
            html = (
                "<!doctype html><meta charset=utf-8><title>Call recording</title>"
                f"<h1>Call {escape(call_id)}</h1><p>{escape(acc.name)}</p>"
                f'<audio controls preload="none" src="/_sandbox/recordings/{escape(call_id)}.mp3"></audio>'
            )
            return Response(html, content_type="text/html; charset=utf-8")
        raise ApiError(404, "Not found")

    def _recording(self, call_id: str) -> Response:
        _, call = self._find_call(call_id)
        if not call.recording_key:
            raise ApiError(404, "Recording not found")
        return Response(_silent_mp3(call.recording_duration or 5), content_type="audio/mpeg")

    def _timeline(self, person_id: str) -> Response:
        rows = []
        with self.state.lock:
            for acc in self.state.accounts.values():
                for call in acc.calls.by_id.values():
                    if call.person_id == person_id:
                        rows.append(f"<li>{escape(call.start.isoformat())} - call {escape(call.id)} "
                                    f"({escape(call.source or '')})</li>")
        if not rows:
            raise ApiError(404, "Person not found")
        html = f"<!doctype html><meta charset=utf-8><title>Timeline</title><ul>{''.join(sorted(rows))}</ul>"
        return Response(html, content_type="text/html; charset=utf-8")
