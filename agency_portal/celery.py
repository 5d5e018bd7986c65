"""The Celery app. Workers: `celery -A agency_portal worker -Q default,interactive,sync,push,webhooks,email`.

A worker of its own for people's work (`-Q interactive`: "Sync now", the push of one's own edit) keeps it ahead
of every agency's scheduled syncs and bulk jobs (apps/core/queues.py).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency_portal.settings.local")

app = Celery("agency_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
