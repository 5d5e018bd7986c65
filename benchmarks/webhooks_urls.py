"""The webhook benchmark's URLs: the portal's, plus its baseline (a bare view that reads the body and answers 202).

Served by the same gunicorn as the portal (``benchmarks/webhooks_settings.py``), so both go through the same
middleware, the same workers and the same load generator: the floor the receiver stands on.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def bare_accept(request: HttpRequest, token: str, event_type: str) -> JsonResponse:
    """Read the body, answer 202: what any Django view taking a delivery costs at the least."""
    request.read(256 * 1024 + 1)
    return JsonResponse({"ok": True}, status=202)


urlpatterns = [
    path("bench-bare/<str:token>/<str:event_type>/", bare_accept, name="bench_bare"),
    path("", include("agency_portal.urls")),
]
