"""The receiving endpoint, fed the exact bodies and signatures the sandbox produced for real activity."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from apps.webhooks.models import EventStatus, WebhookEndpoint, WebhookEvent
from apps.webhooks.services import webhook_signature, webhook_signing_key_set
from tests.sync.conftest import control

from .conftest import connect_webhooks, deliveries

pytestmark = pytest.mark.django_db


@pytest.fixture
def produced(hooked_account, sandbox, settings):
    """Webhooks connected (to a port nobody listens on), then activity: the sandbox's signed deliveries."""
    settings.PORTAL_BASE_URL = "http://127.0.0.1:9"
    keys = connect_webhooks(sandbox, hooked_account)
    control(sandbox, "POST", "activity", account_id=hooked_account.callrail_account_id, new_calls=2,
            modified_calls=2, text_messages=1, form_submissions=1, complete_outbound=False)  # fmt: skip
    sent = deliveries(sandbox)
    assert {d["event"] for d in sent} >= {"pre_call_webhook", "post_call_webhook", "updated_call_webhook",
                                          "sms_received_webhook", "form_captured_webhook"}  # fmt: skip
    return hooked_account, keys, sent


def deliver(client, delivery: dict, *, body: bytes | None = None, signature: str | None = "same", path=None):
    body = delivery["body"].encode() if body is None else body
    headers = {}
    if signature == "same":
        signature = delivery["signature"]
    if signature is not None:
        headers["HTTP_SIGNATURE"] = signature
    return client.post(path or urlsplit(delivery["url"]).path, data=body, content_type="application/json", **headers)


def events(account):
    return list(WebhookEvent.objects.for_account(account).order_by("pk"))


def test_every_signed_delivery_is_stored_verified_and_queued(client, produced, django_capture_on_commit_callbacks):
    account, _, sent = produced
    with django_capture_on_commit_callbacks(execute=False) as queued:
        answers = [deliver(client, d) for d in sent]
    assert [a.status_code for a in answers] == [202] * len(sent)
    logged = events(account)
    assert [e.status for e in logged] == [EventStatus.VERIFIED] * len(sent)
    assert [e.raw_body for e in logged] == [d["body"] for d in sent]
    assert [e.event_type + "_webhook" for e in logged] == [d["event"] for d in sent]
    assert all(e.company is not None and (e.record_id or e.legacy_id) and e.payload_timestamp for e in logged)
    # calls and form submissions are named by their legacy numeric ids, as the docs show; texts by the API's id
    assert all(e.legacy_id.isdigit() and not e.record_id for e in logged if e.event_type != "sms_received")
    assert all(e.source_address == "127.0.0.1" for e in logged)
    modified = [e for e in logged if e.event_type == "updated_call"]
    assert modified
    assert all(e.changes for e in modified)
    assert len(queued) == len(sent)


def test_unknown_token_answers_exactly_like_a_bad_or_missing_signature(client, produced):
    account, _, sent = produced
    delivery = sent[0]
    path = urlsplit(delivery["url"]).path
    token = WebhookEndpoint.objects.for_account(account).get().token
    unknown = path.replace(token, "x" * len(token))
    answers = {
        "unknown token": deliver(client, delivery, path=unknown),
        "unknown token, no signature": deliver(client, delivery, path=unknown, signature=None),
        "bad signature": deliver(client, delivery, signature="AAAA" + delivery["signature"][4:]),
        "missing signature": deliver(client, delivery, signature=None),
        "unknown token, not JSON": deliver(client, delivery, path=unknown, body=b"<xml/>"),
    }
    shapes = {name: (a.status_code, a.content, a["Content-Type"]) for name, a in answers.items()}
    assert set(shapes.values()) == {(401, b'{"error": "invalid signature"}', "application/json")}, shapes
    logged = events(account)  # the account's own refusals are logged; a stranger's token has no account
    assert [(e.status, e.http_status) for e in logged] == [(EventStatus.REJECTED, 401)] * 2
    assert [e.reason for e in logged] == [
        "signature does not match any company's signing key", "missing Signature header",
    ]  # fmt: skip
    # a refused delivery keeps its size, hash, reason and time only
    digest = hashlib.sha256(delivery["body"].encode()).hexdigest()
    assert [(e.body_bytes, e.body_sha256, e.raw_body, e.signature, e.source_address) for e in logged] == [
        (len(delivery["body"].encode()), digest, "", "", None)
    ] * 2


def test_tampered_body_and_wrong_key_are_refused_and_nothing_is_queued(
    client, produced, django_capture_on_commit_callbacks
):
    account, _, sent = produced
    delivery = next(d for d in sent if d["event"] == "post_call_webhook")
    tampered = delivery["body"].replace('"answered":', '"answered": ', 1).encode()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert deliver(client, delivery, body=tampered).status_code == 401
        # the company's key replaced by a wrong one in the portal: CallRail's signature no longer matches
        from apps.companies.models import Company

        company = Company.objects.for_account(account).get(callrail_id=delivery["company_id"])
        webhook_signing_key_set(company=company, signing_key="0" * 32)
        assert deliver(client, delivery).status_code == 401
    assert not queued
    assert [e.status for e in events(account)] == [EventStatus.REJECTED] * 2


def test_a_signed_body_that_is_not_json_is_a_400(client, produced):
    account, keys, sent = produced
    delivery = sent[0]
    body = b"answered=true&id=CAL123"
    answer = deliver(client, delivery, body=body, signature=webhook_signature(signing_key=keys[delivery["company_id"]],
                                                                              body=body))  # fmt: skip
    assert answer.status_code == 400
    (event,) = events(account)
    assert (event.status, event.reason, event.raw_body) == (EventStatus.REJECTED, "body is not JSON", "")
    assert event.body_sha256 == hashlib.sha256(body).hexdigest()


def test_an_oversized_body_is_refused_before_anything_is_stored(client, produced, settings):
    account, _, sent = produced
    settings.WEBHOOK_MAX_BODY_BYTES = 2000
    delivery = next(d for d in sent if len(d["body"]) > 2000)
    assert deliver(client, delivery).status_code == 413
    small = next(d for d in sent if len(d["body"]) <= 2000)
    assert deliver(client, small).status_code == 202
    assert [e.raw_body for e in events(account)] == [small["body"]]


def resign(keys: dict, delivery: dict, **changes) -> tuple[bytes, str]:
    payload = json.loads(delivery["body"])
    payload.update(changes)
    body = json.dumps(payload).encode()
    return body, webhook_signature(signing_key=keys[delivery["company_id"]], body=body)


def test_every_signed_delivery_is_accepted_whatever_its_timestamp(client, produced):
    """The docs' ``timestamp`` is "based on the data" (a call's start): a post-call fires up to 20 minutes after
    hang-up, a Call Modified days later. Replays are answered by the signature, de-duplication and ordering."""
    account, keys, sent = produced
    delivery = next(d for d in sent if d["event"] == "post_call_webhook")
    stamps = [
        (timezone.now() - timedelta(minutes=30)).isoformat(), (timezone.now() - timedelta(days=8)).isoformat(),
        "2018-02-19T13:41:00.236-05:00", (timezone.now() + timedelta(minutes=16)).isoformat(), None, "not a time",
    ]  # fmt: skip
    for stamp in stamps:
        body, signature = resign(keys, delivery, timestamp=stamp)
        assert deliver(client, delivery, body=body, signature=signature).status_code == 202, stamp
    assert [e.status for e in events(account)] == [EventStatus.VERIFIED] * len(stamps)
    start = datetime.fromisoformat(json.loads(delivery["body"])["start_time"])
    assert events(account)[-1].payload_timestamp == start  # without a readable timestamp: the call's start


def test_an_event_for_a_company_the_account_does_not_have_is_a_400(client, produced):
    account, keys, sent = produced
    delivery = next(d for d in sent if d["event"] == "post_call_webhook")
    body, signature = resign(keys, delivery, company_id="COM" + "0" * 32)
    answer = deliver(client, delivery, body=body, signature=signature)
    assert answer.status_code == 400
    (event,) = events(account)
    assert event.reason == f"company COM{'0' * 32} is not in this account"


def test_the_same_delivery_twice_is_queued_once(client, produced, django_capture_on_commit_callbacks):
    account, _, sent = produced
    delivery = sent[0]
    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = deliver(client, delivery)
        second = deliver(client, delivery)
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json() == {"ok": True, "duplicate": True}
    original, duplicate = events(account)
    assert (original.status, duplicate.status, duplicate.duplicate_of_id) == (
        EventStatus.VERIFIED, EventStatus.DUPLICATE, original.pk,
    )  # fmt: skip
    assert len(queued) == 1


def test_only_post_on_known_events(client, produced):
    _, _, sent = produced
    path = urlsplit(sent[0]["url"]).path
    assert client.get(path).status_code == 405
    assert (
        client.post(path.rsplit("/", 2)[0] + "/no_such_event/", data=b"{}", content_type="application/json").status_code
        == 404
    )
