"""The REST API's error bodies are always objects: `{"detail": …}` or `{"field": [messages]}`."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):  # e.g. a search term with a NUL character
        response.data = {"detail": " ".join(str(message) for message in response.data)}
    return response
