"""Celery queues by who waits for the work, and message priorities for work nobody waits for.

``interactive``: what a person just asked for and watches — "Sync now", the push of their own edit. It never
waits behind another agency's scheduled syncs or bulk jobs (``sync``, ``push``): a worker consuming several
queues takes them in turn, and a worker of its own (``-Q interactive``) keeps people's work ahead of any
backlog.

``LEFTOVER_PRIORITY``: work that only uses the workers' leftover time (the continuous re-read's slices). On the
Redis broker a queue is one list per priority step (kombu's default steps 0, 3, 6, 9; 0 comes first), and a
worker asks for the first step of every queue it consumes before any later step. So a message at this priority
starts only when no other message waits in any of the worker's queues, whenever it was sent.
"""

from __future__ import annotations

INTERACTIVE_QUEUE = "interactive"
LEFTOVER_PRIORITY = 9


def interactive_options(interactive: bool) -> dict[str, str]:
    """``apply_async`` options: the interactive queue, or nothing (the task's route: ``sync``, ``push``, …)."""
    return {"queue": INTERACTIVE_QUEUE} if interactive else {}


def leftover_options(leftover: bool) -> dict[str, int]:
    """``apply_async`` options: the last priority (after every other waiting message), or nothing."""
    return {"priority": LEFTOVER_PRIORITY} if leftover else {}
