"""The Content-Security-Policy forbids inline script; no page relies on it."""

import re
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.IGNORECASE)


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part}


def test_every_page_forbids_inline_script_and_framing(client, tenant):
    client.force_login(tenant.owner)
    for url in ("/", "/accounts/login/", "/api/docs/"):
        policy = directives(client.get(url))
        assert policy["script-src"] == ["'self'"], url
        assert policy["frame-ancestors"] == ["'none'"], url
        assert policy["object-src"] == ["'none'"], url


def test_no_template_contains_inline_script_or_event_handlers():
    offenders = []
    for template in sorted(Path(settings.BASE_DIR, "templates").rglob("*.html")):
        text = template.read_text()
        for pattern in (INLINE_SCRIPT, EVENT_HANDLER, JS_URL):
            name = template.relative_to(settings.BASE_DIR)
            offenders += [f"{name}: {m.group(0)[:60]}" for m in pattern.finditer(text)]
    assert not offenders, "\n".join(offenders)


def test_api_docs_load_their_script_from_a_url(client, tenant):
    client.force_login(tenant.owner)
    page = client.get("/api/docs/").content.decode()
    assert not INLINE_SCRIPT.search(page)
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
