import logging

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from apps.core.redis import get_redis

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up (readiness of dependencies is a separate check)."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: the database, Redis (budgets, locks) and the Celery broker answer. 503 otherwise."""
    checks = {"database": _check_database, "redis": _check_redis, "broker": _check_broker}
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:
            logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
            results[name] = f"unavailable ({type(exc).__name__})"
    ready = all(value == "ok" for value in results.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": results}, status=200 if ready else 503)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    get_redis().ping()


def _check_broker() -> None:
    from agency_portal.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``: the portal's icon (static/favicon.svg), where browsers look without a <link>."""
    from django.http import HttpResponsePermanentRedirect
    from django.templatetags.static import static

    return HttpResponsePermanentRedirect(static("favicon.svg"))


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """403: JSON under /api/ (as the API's own refusals), the portal's page (with its way back) elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": str(exception) or "You do not have permission to perform this action."},
                            status=403)  # fmt: skip
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for every unmatched URL: JSON under /api/ (as the API's own 404s), the portal's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
