"""Production: base settings, required secrets, and the hardening `check --deploy` asks for."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import _setting, env

for _required in ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "FIELD_ENCRYPTION_KEYS"):
    if not env(_required, default=""):
        raise ImproperlyConfigured(f"{_required} must be set in production (see README, Configuration).")

DEBUG = False
# Behind a TLS-terminating proxy that sets (and strips any client-sent) X-Forwarded-Proto. Without such a
# proxy, set DJANGO_SECURE_PROXY_SSL_HEADER=false: a client could otherwise claim https itself.
if _setting("DJANGO_SECURE_PROXY_SSL_HEADER", bool, True):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _setting("DJANGO_SECURE_SSL_REDIRECT", bool, True)
# /healthz and /readyz are answered before the redirect (apps/operations/middleware.py); list more
# paths (regexes without the leading slash, e.g. ^metrics$ for an in-cluster scrape) here.
SECURE_REDIRECT_EXEMPT = _setting("DJANGO_SECURE_REDIRECT_EXEMPT", list, [])
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = _setting("DJANGO_SECURE_HSTS_SECONDS", int, 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _setting("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", bool, True)
SECURE_HSTS_PRELOAD = _setting("DJANGO_SECURE_HSTS_PRELOAD", bool, True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
