"""Celery queues by who waits for the work.

``interactive``: what a person just asked for and watches — "Sync now", the push of their own edit. It never
waits behind another agency's scheduled syncs or bulk jobs (``sync``, ``push``): a worker consuming several
queues takes them in turn, and a worker of its own (``-Q interactive``) keeps people's work ahead of any
backlog.
"""

from __future__ import annotations

INTERACTIVE_QUEUE = "interactive"


def interactive_options(interactive: bool) -> dict[str, str]:
    """``apply_async`` options: the interactive queue, or nothing (the task's route: ``sync``, ``push``, …)."""
    return {"queue": INTERACTIVE_QUEUE} if interactive else {}
