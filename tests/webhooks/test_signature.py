"""The signature check, against the test vector of CallRail's documentation and the sandbox's signer."""

from __future__ import annotations

from pathlib import Path

from apps.sandbox.webhooks import sign
from apps.webhooks.services import signature_matches, webhook_signature

VECTOR = Path(__file__).resolve().parents[1] / "fixtures" / "callrail" / "webhooks" / "docs_signature_vector.json"
DOCS_KEY = "072e77e426f92738a72fe23c4d1953b4"
DOCS_SIGNATURE = "UZAHbUdfm3GqL7qzilGozGzWV64="


def test_the_docs_test_vector():
    body = VECTOR.read_bytes()
    assert webhook_signature(signing_key=DOCS_KEY, body=body) == DOCS_SIGNATURE
    assert signature_matches(signing_key=DOCS_KEY, body=body, signature=DOCS_SIGNATURE)


def test_a_changed_byte_a_wrong_key_or_a_truncated_signature_do_not_match():
    body = VECTOR.read_bytes()
    assert not signature_matches(signing_key=DOCS_KEY, body=body.replace(b'"duration":"13"', b'"duration":"14"'),
                                 signature=DOCS_SIGNATURE)  # fmt: skip
    assert not signature_matches(signing_key=DOCS_KEY[:-1] + "0", body=body, signature=DOCS_SIGNATURE)
    assert not signature_matches(signing_key=DOCS_KEY, body=body, signature=DOCS_SIGNATURE[:-2])
    assert not signature_matches(signing_key=DOCS_KEY, body=body, signature="")


def test_the_portal_and_the_sandbox_sign_alike():
    body = b'{"id":"CAL1","timestamp":"2026-01-01T00:00:00.000-05:00"}'
    assert webhook_signature(signing_key="k" * 32, body=body) == sign("k" * 32, body)
