"""Health probes answered before host validation and the HTTPS redirect.

Container health checks and load balancers call ``/healthz`` and ``/readyz`` on the container's own
address over plain HTTP: behind ``ALLOWED_HOSTS`` (a 400 for ``Host: 127.0.0.1``) and
``SECURE_SSL_REDIRECT`` (a 301) they could never succeed. The probes carry no tenant data and read
nothing from the request, so they are answered here, right after the request id is set.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.core.views import healthz, readyz

PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {"/healthz": healthz, "/readyz": readyz}


class HealthProbeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
