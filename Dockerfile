# One image for web, workers (one of them for the `interactive` queue only) and beat; the command picks the role
# (see docker-compose.yml).
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=agency_portal.settings.production \
    VAR_DIR=/app/var

WORKDIR /app
RUN groupadd --system portal && useradd --system --gid portal --home /app portal

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY --chown=portal:portal . .
# collectstatic needs settings but no real services or secrets: give it throwaway values.
RUN DJANGO_SECRET_KEY=build-only DATABASE_URL=sqlite:////tmp/build.sqlite3 REDIS_URL=redis://127.0.0.1:1/0 \
    FIELD_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    python manage.py collectstatic --noinput \
 && mkdir -p /app/var/exports && chown -R portal:portal /app/var

USER portal
EXPOSE 8000
# Ready = database, Redis and broker answer. /readyz is answered before the host check and the HTTPS
# redirect (apps/operations/middleware.py), so the plain-HTTP probe on 127.0.0.1 works in production.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"
CMD ["gunicorn", "agency_portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--worker-class", "gthread", "--threads", "4", "--access-logfile", "-"]
