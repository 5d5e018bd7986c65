"""The Celery app. Workers: `celery -A agency_portal worker -Q default,sync,push,webhooks,email`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency_portal.settings.local")

app = Celery("agency_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
