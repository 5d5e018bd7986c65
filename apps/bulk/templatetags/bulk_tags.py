"""Template helpers of the bulk selection on resource lists."""

from __future__ import annotations

from typing import Any

from django import template

from apps.bulk.actions import actions_for
from apps.bulk.selectors import user_can_bulk

register = template.Library()


@register.simple_tag(takes_context=True)
def bulk_actions_for(context: Any, resource: Any) -> list:
    """The bulk actions of a list for the signed-in person (none for clients)."""
    request = context.get("request")
    if request is None or resource is None:
        return []
    allowed = getattr(request, "_bulk_allowed", None)
    if allowed is None:  # once per request (the page and its list region ask)
        allowed = user_can_bulk(user=request.user, agency=getattr(request, "agency", None) or None)
        request._bulk_allowed = allowed
    if not allowed:
        return []
    return actions_for(resource.name)

