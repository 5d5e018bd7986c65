"""The one "safe link" filter: only http(s) URLs (and the portal's own relative links) become links or media
sources, on pages and in emails. URLs from CallRail (recordings, landing pages) are data, not trusted markup:
`javascript:`, `data:`, `vbscript:` and every other scheme render as no link at all.

    {% load safe_links %}
    {% with url=call.recording_player|safe_url %}{% if url %}<a href="{{ url }}">Play</a>{% endif %}{% endwith %}
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django import template

register = template.Library()

ALLOWED_SCHEMES = frozenset({"http", "https"})
# Browsers drop ASCII tab and newlines anywhere in a URL and C0 controls and spaces around it
# (WHATWG URL standard), so "java\tscript:" is javascript: to them: judge the URL as they will read it.
_DROPPED = re.compile(r"[\t\n\r]")
_EDGES = "".join(chr(c) for c in range(0x21))


@register.filter(is_safe=False)
def safe_url(value: Any) -> str:
    """`value` if it is an http(s) URL or a relative one, else "" (so the template shows no link)."""
    if value is None:
        return ""
    text = str(value)
    seen = _DROPPED.sub("", text).strip(_EDGES)
    if not seen:
        return ""
    try:
        parts = urlsplit(seen.replace("\\", "/"))
    except ValueError:
        return ""
    if parts.scheme:
        return text.strip(_EDGES) if parts.scheme.lower() in ALLOWED_SCHEMES and parts.netloc else ""
    # relative: a path, query or fragment of the portal itself; never something a browser could read as a scheme
    return text.strip(_EDGES) if ":" not in seen.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0] else ""
