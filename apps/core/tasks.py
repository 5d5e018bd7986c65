from celery import shared_task
from django.core.cache import cache
from django.utils import timezone


@shared_task(name="core.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Beat's proof of life: the dashboard shows when workers last ran a scheduled task."""
    cache.set("worker-heartbeat", timezone.now().isoformat(), timeout=None)
