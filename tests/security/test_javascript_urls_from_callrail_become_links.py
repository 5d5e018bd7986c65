"""Finding 7 (low): `javascript:` URLs from CallRail became links ("Play recording").

Only http(s) URLs (and the portal's own relative links) are ever rendered as links or media sources, on
pages and in emails: everything goes through the one `safe_url` filter.
"""

import re

import pytest
from django.template import Context, Template
from django.urls import reverse

pytestmark = [pytest.mark.django_db]

HOSTILE = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    "  javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "\x01javascript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "file:///etc/passwd",
]
LINK_ATTRIBUTE = re.compile(r"""(?:href|src|action|formaction|poster)\s*=\s*["']?\s*([a-z][a-z0-9+.-]*):""", re.I)


def schemes_linked(html: str) -> set[str]:
    return {m.lower() for m in LINK_ATTRIBUTE.findall(html)}


@pytest.mark.parametrize("value", HOSTILE)
def test_the_filter_refuses_every_other_scheme(value):
    from apps.portal.templatetags.safe_links import safe_url

    assert safe_url(value) == ""


@pytest.mark.parametrize(
    "value",
    ["https://app.callrail.com/calls/CAL1/recording?access_key=k", "http://example.test/a", "/accounts/1/calls/"],
)
def test_the_filter_keeps_http_and_the_portals_own_links(value):
    from apps.portal.templatetags.safe_links import safe_url

    assert safe_url(value) == value


def test_a_javascript_recording_url_is_not_a_link_on_the_call_page(tenant, login):
    from tests.portal.mirror import call

    hostile = call(tenant.account, recording_player="javascript:alert(document.cookie)", recording_duration=12)
    fine = call(tenant.account, recording_player="https://app.callrail.com/calls/CAL1/recording?access_key=k",
                recording_url="https://api.callrail.com/v3/a/ACC1/calls/CAL1/recording.json")  # fmt: skip
    browser = login(tenant.staff)
    page = browser.get(reverse("portal:resource_detail", args=[tenant.account.pk, "calls", hostile.pk])).content
    assert schemes_linked(page.decode()) <= {"http", "https", "tel"}  # tel: the caller's number
    assert "javascript:alert" not in page.decode().split("All fields")[0]  # not even as text in the summary card
    # issue 18: recordings play through the portal; CallRail's player link (and its key) is never rendered
    page = browser.get(reverse("portal:resource_detail", args=[tenant.account.pk, "calls", fine.pk])).content
    assert "access_key" not in page.decode()
    assert f'src="{reverse("portal:call_recording", args=[tenant.account.pk, fine.pk])}"' in page.decode()


def test_templates_and_emails_use_the_filter():
    rendered = Template('{% load safe_links %}<a href="{{ url|safe_url }}">x</a>').render(
        Context({"url": "javascript:alert(1)"})
    )
    assert schemes_linked(rendered) == set()
