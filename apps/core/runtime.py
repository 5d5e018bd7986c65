"""What a long-lived web process does once, after Django is set up and before its first request."""

from __future__ import annotations

import gc

from django.urls import get_resolver


def freeze_startup_objects() -> int:
    """Load the URL patterns (and with them every view module), collect the garbage of the start, and put every
    object alive now out of the cyclic garbage collector's sight (``gc.freeze``): modules, settings, models,
    URL patterns live as long as the process, yet a full collection would walk them all again (about 150,000
    objects: 65 ms on the 200-row calls page, one request in twenty, against 3 ms frozen). Returns how many
    objects are frozen."""
    get_resolver().url_patterns  # noqa: B018 - imported now, frozen with the rest
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
