"""Celery is wired to Redis with late acks and named queues, and a real worker runs tasks."""

import time

import pytest
from django.conf import settings
from django.core.cache import cache

from agency_portal.celery import app
from apps.core.tasks import heartbeat


def test_celery_configuration_is_safe_by_default():
    conf = app.conf
    assert conf.broker_url == settings.REDIS_URL
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"]
    assert set(settings.CELERY_TASK_QUEUES_NAMES) == {"default", "interactive", "sync", "push", "webhooks", "email"}
    assert app.amqp.router.route({}, "sync.pull_account")["queue"].name == "sync"
    assert "core.heartbeat" in conf.beat_schedule


@pytest.mark.worker
@pytest.mark.smoke
def test_a_real_worker_runs_a_queued_task(celery_worker):
    cache.delete("worker-heartbeat")
    heartbeat.delay()
    deadline = time.monotonic() + 20
    while cache.get("worker-heartbeat") is None:
        assert time.monotonic() < deadline, celery_worker.log.read_text()[-2000:]
        time.sleep(0.1)
