"""Settings of the worker processes the fault suite starts: the test settings with short lock lifetimes, so a
worker killed while holding an account's sync or drain lock is replaced within seconds (production: minutes)."""

from agency_portal.settings.test import *  # noqa: F403

PUSH_LOCK_TTL = 4
SYNC_LOCK_TTL = 4
