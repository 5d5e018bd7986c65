from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up (readiness of dependencies is a separate check)."""
    return JsonResponse({"status": "ok"})
