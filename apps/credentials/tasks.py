"""Celery tasks of credentials: thin, they load ids and call ``services``."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="credentials.watch_connection", ignore_result=True)
def watch_connection_task(*, connection_id: int) -> str:
    """Look at a pending gateway connection once; look again later (a new message, never a sleep) until it
    is active, failed or expired, or the watch window closes."""
    from .services import connection_watch_step

    countdown = connection_watch_step(connection_pk=connection_id)
    if countdown is None:
        return "done"
    watch_connection_task.apply_async(kwargs={"connection_id": connection_id}, countdown=countdown)
    return "watching"
