"""Settings of the webhook benchmark's gunicorn and worker: the test settings, plus the baseline view's URL."""

from agency_portal.settings.test import *  # noqa: F403

ROOT_URLCONF = "benchmarks.webhooks_urls"
