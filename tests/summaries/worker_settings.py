"""Settings of a Celery worker that sends real email: the test settings, with EMAIL_URL honoured again
(the test settings pin the in-memory backend, which a worker in another process cannot share)."""

import environ

from agency_portal.settings.test import *  # noqa: F403

vars().update(environ.Env().email_url("EMAIL_URL"))
