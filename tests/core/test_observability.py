"""Health and readiness endpoints, request ids, and the context on every log line."""

import json
import logging
import socket

import pytest

from apps.core.logcontext import LogContextFilter, log_context
from apps.core.redis import get_redis

pytestmark = [pytest.mark.django_db]


def test_ready_when_database_redis_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "broker": "ok"}}


def test_not_ready_names_what_is_down(client, settings):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{dead}/0"
    get_redis.cache_clear()
    try:
        response = client.get("/readyz")
    finally:
        get_redis.cache_clear()
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unavailable (")


def test_every_response_carries_a_request_id_and_a_given_one_is_kept(client):
    made = client.get("/healthz")["X-Request-ID"]
    assert len(made) == 32
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    assert client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nforged")["X-Request-ID"] != "bad id\nforged"


def test_log_lines_carry_request_task_and_account(caplog):
    from pythonjsonlogger.json import JsonFormatter

    logger = logging.getLogger("tests.observability")
    with log_context(request_id="r1", account=type("A", (), {"pk": 42})()):
        logger.warning("inside")
    logger.warning("outside")
    records = [r for r in caplog.records if r.name == "tests.observability"]
    formatter = JsonFormatter("%(message)s %(request_id)s %(task_id)s %(account)s")
    lines = [json.loads(formatter.format(r)) for r in records if LogContextFilter().filter(r)]
    assert lines == [
        {"message": "inside", "request_id": "r1", "task_id": "-", "account": 42},
        {"message": "outside", "request_id": "-", "task_id": "-", "account": "-"},
    ]
