"""Issue 16, finding 5: one company's webhook signing key rewrote another company's calls. A signed delivery
may only touch records of the company whose key signed it."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from apps.calls.models import Call
from apps.companies.models import Company
from apps.text_conversations.models import TextConversation
from apps.webhooks.models import WebhookEvent
from apps.webhooks.services import webhook_event_apply, webhook_signature, webhook_urls
from tests.webhooks.conftest import connect_webhooks

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_companies(hooked_account, sandbox, settings):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:9"
    keys = connect_webhooks(sandbox, hooked_account)
    first, second = Company.objects.for_account(hooked_account).order_by("name")[:2]
    return hooked_account, keys, first, second


def deliver(client, account, event: str, payload: dict, key: str) -> WebhookEvent | None:
    """Post a delivery signed with ``key``, apply what was accepted; the event (None if refused at the door)."""
    body = json.dumps(payload).encode()
    path = urlsplit(webhook_urls(account)[f"{event}_webhook"]).path
    answer = client.post(path, data=body, content_type="application/json",
                         HTTP_SIGNATURE=webhook_signature(signing_key=key, body=body))  # fmt: skip
    if answer.status_code != 202:
        return None
    event_row = WebhookEvent.objects.for_account(account).order_by("-pk").first()
    return webhook_event_apply(event=event_row)


@pytest.mark.parametrize("named", ["no company", "the signer's company", "the signer's numeric id"])
def test_a_delivery_signed_by_one_company_cannot_rewrite_another_companys_call(client, two_companies, named):
    account, keys, signer, victim = two_companies
    call = (
        Call.objects.for_account(account).filter(company=victim, recording_player__isnull=False)
        .order_by("-start_time").first()
    )  # fmt: skip
    before = (call.company_id, call.note, call.payload_hash)
    payload = {**call.payload, "note": "rewritten by another company's key", "timestamp": timezone.now().isoformat(),
               "changes": ["note"]}  # fmt: skip
    payload.pop("company_id", None)
    if named == "the signer's company":
        payload["company_id"] = signer.callrail_id
    elif named == "the signer's numeric id":  # the docs' shape: legacy numeric ids, no CAL… id in the body
        payload["company_id"] = int(re.search(r"/companies/(\d+)/", signer.payload["script_url"]).group(1))
        payload["id"] = int(re.search(r"/calls/(\d+)/", call.recording_player).group(1))  # the call's legacy id

    event = deliver(client, account, "updated_call", payload, keys[signer.callrail_id])

    call.refresh_from_db()
    assert (call.company_id, call.note, call.payload_hash) == before  # untouched
    assert not Call.objects.for_account(account).filter(note="rewritten by another company's key").exists()
    if event is not None:
        assert event.status == "ignored", (event.status, event.reason)


def test_a_text_of_another_company_is_not_moved_to_the_signer(client, two_companies):
    account, keys, signer, victim = two_companies
    conversation = TextConversation.objects.for_account(account).filter(company=victim).first()
    payload = {"id": 1, "resource_id": "SCI" + "0" * 32, "source_number": "404-555-0100",
               "destination_number": "404-555-0101", "content": "moved?", "timestamp": timezone.now().isoformat(),
               "lead_status": None, "conversation_id": conversation.callrail_id,
               "company_resource_id": signer.callrail_id, "person_resource_id": None}  # fmt: skip
    event = deliver(client, account, "sms_received", payload, keys[signer.callrail_id])
    conversation.refresh_from_db()
    assert conversation.company_id == victim.pk
    assert "moved?" not in json.dumps(conversation.payload)
    assert event is None or event.status == "ignored"


def test_the_signers_own_call_is_still_updated(client, two_companies):
    account, keys, signer, _ = two_companies
    call = Call.objects.for_account(account).filter(company=signer).order_by("-start_time").first()
    payload = {**call.payload, "note": "a genuine edit", "timestamp": timezone.now().isoformat(), "changes": ["note"]}
    event = deliver(client, account, "updated_call", payload, keys[signer.callrail_id])
    assert event is not None
    call.refresh_from_db()
    assert call.company_id == signer.pk
    assert call.note == "a genuine edit" or event.result.get("fetched")  # applied, or CallRail's record fetched
