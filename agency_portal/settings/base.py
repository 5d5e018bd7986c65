"""Settings shared by every environment. Everything that differs between environments comes from the
environment (django-environ); see README "Configuration" for every variable.

With no variables at all this is the *embedded default*: a SQLite file and a Redis that the portal
starts itself, both under VAR_DIR.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from pathlib import Path

import environ
from celery.schedules import crontab
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from apps.core import embedded_redis

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def _setting(name: str, cast, default):
    """Read one variable; a malformed value stops start-up with one line naming it."""
    if cast is bool and env.str(name, default="") != "":
        raw = env.str(name).strip().lower()
        if raw not in _BOOLEANS:
            raise ImproperlyConfigured(f"{name} is invalid: expected true or false, got {raw!r}")
        return _BOOLEANS[raw]
    try:
        return env(name, cast=cast, default=default)
    except (ValueError, environ.ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"{name} is invalid: {exc}") from None


VAR_DIR = Path(_setting("VAR_DIR", str, str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret_key() -> str:
    """The embedded default keeps a generated key in VAR_DIR so sessions survive restarts."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = _setting("DJANGO_DEBUG", bool, False)
SECRET_KEY = _setting("DJANGO_SECRET_KEY", str, "") or _local_secret_key()
ALLOWED_HOSTS = _setting("DJANGO_ALLOWED_HOSTS", list, ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = _setting("DJANGO_CSRF_TRUSTED_ORIGINS", list, [])

# The portal's own public address: links in emails, webhook URLs registered in CallRail.
PORTAL_BASE_URL = _setting("PORTAL_BASE_URL", str, "http://127.0.0.1:8000").rstrip("/")

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
]
LOCAL_APPS = [
    "apps.core",
    "apps.tenancy",
    "apps.credentials",  # agency keys and gateway connections shared by client accounts (issue 20)
    "apps.audit",
    "apps.portal",
    "apps.callrail",
    "apps.sandbox",
    # CallRail mirror (issue 5): pull sync and one app per resource
    "apps.sync",
    "apps.companies",
    "apps.trackers",
    "apps.users",
    "apps.tags",
    "apps.notifications",
    "apps.summary_emails",
    "apps.calls",
    "apps.integrations",
    "apps.form_submissions",
    "apps.text_conversations",
    "apps.leads",
    "apps.summaries",  # the agency's own branded summary emails (issue 10)
    "apps.push",  # the outbox: staff edits pushed to CallRail (issue 6)
    "apps.webhooks",  # signed CallRail webhooks (issue 7)
    "apps.bulk",  # bulk actions on list selections, run as Celery jobs (issue 8)
    "apps.operations",  # metrics, system page, data retention, account deletion (issue 11)
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "apps.core.logcontext.RequestIdMiddleware",
    "apps.operations.middleware.HealthProbeMiddleware",  # /healthz, /readyz: before host check and HTTPS redirect
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "apps.tenancy.middleware.ImpersonationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.tenancy.middleware.CurrentAgencyMiddleware",
    "apps.audit.context.AuditContextMiddleware",
    "apps.tenancy.middleware.TwoFactorMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "agency_portal.urls"
WSGI_APPLICATION = "agency_portal.wsgi.application"
ASGI_APPLICATION = "agency_portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.tenancy.context_processors.tenancy",
            ],
        },
    },
]

# --- Database: PostgreSQL in production and CI, a SQLite file on the embedded default.
_database_url = _setting("DATABASE_URL", str, "") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
if _database_url.split("://", 1)[0] not in ("postgres", "postgresql", "pgsql", "sqlite") or "://" not in _database_url:
    raise ImproperlyConfigured(
        "DATABASE_URL is invalid: expected postgres://USER:PASSWORD@HOST:PORT/NAME or sqlite:////PATH/db.sqlite3"
    )
DATABASES = {"default": env.db_url_config(_database_url)}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", _setting("DATABASE_CONN_MAX_AGE", int, 60))
if DATABASES["default"]["ENGINE"].endswith("postgresql") and _setting("DATABASE_PREPARED_STATEMENTS", bool, True):
    # Django's cursors quote values into the SQL and never prepare; a cursor binding on the server (the webhook
    # receiver's INSERT) is prepared by psycopg from its fifth run on a connection. Off for a connection pooler
    # in transaction mode that keeps no prepared statements (PgBouncer before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web, worker and beat share the file: writers queue for the lock (IMMEDIATE transactions honour the
    # busy timeout; deferred ones fail at once with "database is locked" when a reader turns writer).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The calls list's covering index (apps/calls/models.py) includes columns on PostgreSQL; SQLite keeps its key.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker, cache, rate-limit budgets. When REDIS_URL is unset the portal runs its own, started at the
# first connection a process makes to it (never for commands that do not use Redis) and stopped when the process
# that started it exits (apps/core/embedded_redis.py).
EMBEDDED_REDIS = not env("REDIS_URL", default="")
EMBEDDED_REDIS_PORT = _setting("EMBEDDED_REDIS_PORT", int, 6389)
REDIS_URL = _setting("REDIS_URL", str, "") or embedded_redis.start_on_demand(VAR_DIR / "redis", EMBEDDED_REDIS_PORT)
# Every key the portal writes starts with this, so several installations (or test runs) can share a Redis.
REDIS_KEY_PREFIX = _setting("REDIS_KEY_PREFIX", str, "ap")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{REDIS_KEY_PREFIX}:cache",
    }
}

# --- Auth
AUTH_USER_MODEL = "tenancy.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out (username, address) pairs
    "django.contrib.auth.backends.ModelBackend",
]
# Lock on username AND address together, so one attacker behind an office's shared address cannot
# lock out all of its staff, and a botnet cannot lock out one user from everywhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = _setting("AXES_FAILURE_LIMIT", int, 5)
AXES_COOLOFF_TIME = _setting("AXES_COOLOFF_MINUTES", int, 15) / 60  # hours
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"
AXES_IPWARE_PROXY_COUNT = _setting("AXES_PROXY_COUNT", int, 0)
OTP_TOTP_ISSUER = "Agency Portal"
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_AGE = _setting("SESSION_COOKIE_AGE", int, 60 * 60 * 12)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # HTMX reads it to send X-CSRFToken

# --- Secrets at rest (CallRail keys, webhook signing keys). Comma-separated Fernet keys, newest
# first: new values are encrypted with the first, old ones still decrypt with the rest (rotation).
def _default_field_key() -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(f"field-encryption:{SECRET_KEY}".encode()).digest()).decode()


FIELD_ENCRYPTION_KEYS = _setting("FIELD_ENCRYPTION_KEYS", list, []) or [_default_field_key()]
for _key in FIELD_ENCRYPTION_KEYS:
    try:
        Fernet(_key.encode())
    except ValueError:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is invalid: each comma-separated key must be a Fernet key "
            "(32 url-safe base64-encoded bytes; see README, Configuration)"
        ) from None

# --- Email
try:
    vars().update(env.email_url("EMAIL_URL", default=f"filemail://{VAR_DIR / 'mail'}"))
except (ValueError, environ.ImproperlyConfigured) as exc:
    raise ImproperlyConfigured(f"EMAIL_URL is invalid: {exc}") from None
if EMAIL_BACKEND.endswith("filebased.EmailBackend"):  # noqa: F821 - set by email_url above
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = _setting("DEFAULT_FROM_EMAIL", str, "Agency Portal <portal@localhost>")
# Portal summary emails (issue 10): how late a missed send may still go out, retries of SMTP failures.
SUMMARY_CATCH_UP_HOURS = _setting("SUMMARY_CATCH_UP_HOURS", float, 20.0)
SUMMARY_MAX_ATTEMPTS = _setting("SUMMARY_MAX_ATTEMPTS", int, 5)
SUMMARY_RETRY_BASE_SECONDS = _setting("SUMMARY_RETRY_BASE_SECONDS", float, 60.0)

# --- i18n / time: stored in UTC, shown in the account's or company's time zone.
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# English only: no catalogue to load, and without it each number and date a page shows skips the active-
# language look-ups (a fifth of the dashboard's template time with 25 accounts).
USE_I18N = False
USE_TZ = True

# --- Static files: vendored into static/, served by WhiteNoise.
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
FORMS_URLFIELD_ASSUME_HTTPS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Celery (namespace CELERY_): JSON only, late acks, named queues, beat.
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Above the longest countdown a task may be retried with (5 min), so none is redelivered early. A task whose
    # worker died unacknowledged is redelivered after this long (benchmarks that kill workers lower it).
    "visibility_timeout": _setting("CELERY_VISIBILITY_TIMEOUT", int, 60 * 60),
    "global_keyprefix": f"{REDIS_KEY_PREFIX}:celery:",
    # kombu's default, named because the re-read's slices rely on it: a list per step, the first step of every
    # queue taken before any later one (apps/core/queues.LEFTOVER_PRIORITY goes to the last).
    "priority_steps": [0, 3, 6, 9],
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TASK_DEFAULT_QUEUE = "default"
# "interactive": what a person waits for ("Sync now", the push of their own edit), never behind a backlog of
# scheduled syncs or bulk jobs (apps/core/queues.py); sent there explicitly, no route names it.
CELERY_TASK_QUEUES_NAMES = ("default", "interactive", "sync", "push", "webhooks", "email")
CELERY_TASK_ROUTES = {
    "sync.*": {"queue": "sync"},
    "push.*": {"queue": "push"},
    "bulk.*": {"queue": "push"},  # bulk jobs only queue outbox entries (issue 8)
    "webhooks.*": {"queue": "webhooks"},
    "email.*": {"queue": "email"},
}
CELERY_BEAT_SCHEDULE: dict = {
    "core.heartbeat": {"task": "core.heartbeat", "schedule": crontab(), "options": {"expires": 60}},
    # Pull sync fan-out: queues each account's due incremental / full run (issue 5).
    "sync.dispatch": {"task": "sync.dispatch", "schedule": crontab(), "options": {"expires": 55}},
    # The continuous re-read's next slices, with the workers' leftover time (issues 17, 22).
    "sync.reread_dispatch": {"task": "sync.reread_dispatch", "schedule": crontab(), "options": {"expires": 55}},
    # Accepted webhook deliveries whose hand-off to the worker was lost (issue 19).
    "webhooks.sweep": {"task": "webhooks.sweep", "schedule": crontab(), "options": {"expires": 60}},
    # Webhook event log retention (issue 7).
    "webhooks.prune": {"task": "webhooks.prune", "schedule": crontab(minute=17, hour=4), "options": {"expires": 3600}},
    # Portal summary emails: queue the summaries whose local send hour has come (issue 10).
    "email.summaries_dispatch": {
        "task": "email.summaries_dispatch",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 290},
    },
    # Push: re-send drains of accounts with unsent edits (lost messages, waits longer than a countdown).
    "push.sweep": {"task": "push.sweep", "schedule": crontab(), "options": {"expires": 55}},
    # Data lifecycle (issue 11): per-agency retention nightly, scheduled account deletions hourly.
    "operations.enforce_retention": {
        "task": "operations.enforce_retention",
        "schedule": crontab(minute=41, hour=3),
        "options": {"expires": 3600},
    },
    "operations.delete_due_accounts": {
        "task": "operations.delete_due_accounts",
        "schedule": crontab(minute=23),
        "options": {"expires": 3000},
    },
}
CELERY_TASK_ALWAYS_EAGER = False

# --- Webhooks (issue 7): signed CallRail webhooks received at PORTAL_BASE_URL/hooks/<token>/<event>/
WEBHOOK_MAX_BODY_BYTES = _setting("WEBHOOK_MAX_BODY_BYTES", int, 256 * 1024)  # larger deliveries: 413
# Refused deliveries recorded per endpoint and minute (size, hash, reason, time); beyond: 429, nothing stored.
WEBHOOK_REFUSALS_PER_MINUTE = _setting("WEBHOOK_REFUSALS_PER_MINUTE", int, 30)
# A pull that wrote a record this close before a delivery arrived may hold newer data: fetch, don't guess.
WEBHOOK_ORDER_SKEW_SECONDS = _setting("WEBHOOK_ORDER_SKEW_SECONDS", float, 120.0)
# While webhooks are healthy for an account its incremental sync runs at most this often (0: never slowed).
WEBHOOK_HEALTHY_INCREMENTAL_MINUTES = _setting("WEBHOOK_HEALTHY_INCREMENTAL_MINUTES", int, 60)
WEBHOOK_EXPECTED_CALLS = _setting("WEBHOOK_EXPECTED_CALLS", float, 3.0)  # silence while this many calls expected
WEBHOOK_MAX_SILENCE_HOURS = _setting("WEBHOOK_MAX_SILENCE_HOURS", float, 24.0)  # no webhook this long: unhealthy
# An accepted delivery no worker has tried this long after it arrived is handed off again (the sweeper).
WEBHOOK_HAND_OFF_GRACE_SECONDS = _setting("WEBHOOK_HAND_OFF_GRACE_SECONDS", float, 60.0)
# Each web process gathers accepted deliveries this long and hands them to the worker in one push (0: each alone).
WEBHOOK_HAND_OFF_WINDOW_SECONDS = _setting("WEBHOOK_HAND_OFF_WINDOW_SECONDS", float, 0.02)
WEBHOOK_EVENT_RETENTION_DAYS = _setting("WEBHOOK_EVENT_RETENTION_DAYS", int, 30)  # event log kept this long (0: ever)

# --- Continuous re-read (issue 17): every record of the retention window listed again, newest most often
SYNC_REREAD_ROUND_MINUTES = _setting("SYNC_REREAD_ROUND_MINUTES", int, 60)  # the newest records: this often
SYNC_REREAD_SLICE_PAGES = _setting("SYNC_REREAD_SLICE_PAGES", int, 10)  # pages a resource one re-read run lists

# --- Scale (issue 22): many accounts share the workers
# A run gives its worker back after this long (at a page boundary, its checkpoint saved) and goes to the tail of its
# queue: one huge account's full sync never holds a worker for its whole length (0: never).
SYNC_SLICE_SECONDS = _setting("SYNC_SLICE_SECONDS", float, 120.0)
# A run saves its counters and progress at most this often (its pages and checkpoints commit page by page anyway).
SYNC_PROGRESS_SAVE_SECONDS = _setting("SYNC_PROGRESS_SAVE_SECONDS", float, 2.0)
# Accounts whose re-read slice the beat dispatcher looks at per tick, in rotation (the tick's one per-account step).
SYNC_DISPATCH_REREAD_CHECKS = _setting("SYNC_DISPATCH_REREAD_CHECKS", int, 25)
# Re-read slices wait while more runs than this, queued by earlier ticks, have not started (workers behind).
SYNC_REREAD_MAX_BACKLOG = _setting("SYNC_REREAD_MAX_BACKLOG", int, 10)
# A queued run no worker started this long after its task was sent (workers not behind) is sent again: a dead
# worker held its message, which the broker would give back only after CELERY_VISIBILITY_TIMEOUT.
SYNC_QUEUED_RESEND_SECONDS = _setting("SYNC_QUEUED_RESEND_SECONDS", float, 180.0)
# Finished sync runs are kept this many days (fewer if the agency's retention says so; 0: the agency's): each
# account makes about 230 a day on the default schedule. What they added up stays in SyncTotals.
SYNC_RUN_HISTORY_DAYS = _setting("SYNC_RUN_HISTORY_DAYS", int, 30)

# --- Operations (issue 11): Prometheus metrics, data lifecycle, request size limits
METRICS_TOKEN = _setting("METRICS_TOKEN", str, "")  # /metrics wants "Authorization: Bearer <this>" (or a superuser)
WORKER_PING_TIMEOUT = _setting("WORKER_PING_TIMEOUT", float, 1.0)  # the system page waits this long for workers
OPERATIONS_EXPORT_DIR = Path(_setting("OPERATIONS_EXPORT_DIR", str, str(VAR_DIR / "exports")))  # account exports
ACCOUNT_DELETION_GRACE_DAYS = _setting("ACCOUNT_DELETION_GRACE_DAYS", float, 7.0)  # cancellable until then
RETENTION_BATCH_SIZE = _setting("RETENTION_BATCH_SIZE", int, 1000)  # rows per delete transaction
DATA_UPLOAD_MAX_MEMORY_SIZE = _setting("DATA_UPLOAD_MAX_MEMORY_SIZE", int, 2_621_440)  # request body (not files)
DATA_UPLOAD_MAX_NUMBER_FIELDS = _setting("DATA_UPLOAD_MAX_NUMBER_FIELDS", int, 5000)  # bulk actions post many ids
FILE_UPLOAD_MAX_MEMORY_SIZE = _setting("FILE_UPLOAD_MAX_MEMORY_SIZE", int, 2_621_440)  # larger go to a temp file
FILE_UPLOAD_PERMISSIONS = 0o640

# --- Call recordings played in the portal: fetched once from CallRail (one interactive request), then kept
# on local disk this long, so replays and seeking spend no budget; larger recordings are refused.
RECORDINGS_CACHE_DIR = Path(_setting("RECORDINGS_CACHE_DIR", str, str(VAR_DIR / "recordings")))
RECORDINGS_CACHE_HOURS = _setting("RECORDINGS_CACHE_HOURS", float, 24.0)
RECORDINGS_MAX_BYTES = _setting("RECORDINGS_MAX_BYTES", int, 64_000_000)

# --- Push (outbox, issue 6): transient failures are retried with exponential backoff between attempts
PUSH_MAX_ATTEMPTS = _setting("PUSH_MAX_ATTEMPTS", int, 8)
PUSH_RETRY_BASE_SECONDS = _setting("PUSH_RETRY_BASE_SECONDS", float, 5.0)
PUSH_RETRY_MAX_SECONDS = _setting("PUSH_RETRY_MAX_SECONDS", float, 300.0)

# --- CallRail
# Share of every CallRail limit the portal allows itself (CallRail may count other clients too).
CALLRAIL_BUDGET_SAFETY = _setting("CALLRAIL_BUDGET_SAFETY", float, 0.9)
CALLRAIL_DEFAULT_BASE_URL = _setting("CALLRAIL_DEFAULT_BASE_URL", str, "https://api.callrail.com")
CALLRAIL_HTTP_TIMEOUT = _setting("CALLRAIL_HTTP_TIMEOUT", float, 30.0)
CALLRAIL_GATEWAY_BASE_URL = _setting("CALLRAIL_GATEWAY_BASE_URL", str, "https://gateway.maton.ai")
# The gateway's control API (create, list, get, delete OAuth connections): an operator setting.
CALLRAIL_GATEWAY_CONTROL_URL = _setting("CALLRAIL_GATEWAY_CONTROL_URL", str, "https://ctrl.maton.ai").rstrip("/")
# "Connect with CallRail": a pending gateway connection is watched this often, for this long (then the link is
# shown as not used in time; "Check now" still asks the gateway).
GATEWAY_CONNECTION_POLL_SECONDS = _setting("GATEWAY_CONNECTION_POLL_SECONDS", float, 5.0)
GATEWAY_CONNECTION_WATCH_MINUTES = _setting("GATEWAY_CONNECTION_WATCH_MINUTES", float, 60.0)
# The only destinations a stored CallRail key is ever sent to (apps/callrail/destinations.py): URL prefixes,
# comma-separated; ":*" allows any port (tests). The demo adds the sandbox's address.
CALLRAIL_ALLOWED_BASE_URLS = _setting(
    "CALLRAIL_ALLOWED_BASE_URLS",
    list,
    [url for url in (CALLRAIL_DEFAULT_BASE_URL, CALLRAIL_GATEWAY_BASE_URL) if url.startswith("https://")],
)
# Budget time runs this much faster than the clock (60: an hour lasts a minute). Tests and demos only;
# it must equal the sandbox's --time-scale when both are scaled.
CALLRAIL_BUDGET_TIME_SCALE = _setting("CALLRAIL_BUDGET_TIME_SCALE", float, 1.0)
# Each priority lane's share of every window: background sync stops first, a person never does.
CALLRAIL_BUDGET_LANE_SHARES = {
    "background": _setting("CALLRAIL_BUDGET_BACKGROUND_SHARE", float, 0.7),
    "followup": _setting("CALLRAIL_BUDGET_FOLLOWUP_SHARE", float, 0.9),
    "interactive": 1.0,
}
CALLRAIL_BUDGET_PACE_BACKGROUND = _setting("CALLRAIL_BUDGET_PACE_BACKGROUND", bool, True)  # spread the day
CALLRAIL_BUDGET_FALLBACK_PROCESSES = _setting("CALLRAIL_BUDGET_FALLBACK_PROCESSES", int, 8)  # Redis down
CALLRAIL_BUDGET_MIN_BLOCK_SECONDS = _setting("CALLRAIL_BUDGET_MIN_BLOCK_SECONDS", float, 60.0)  # after a 429
CALLRAIL_BUDGET_BLOCK_JITTER_SECONDS = _setting("CALLRAIL_BUDGET_BLOCK_JITTER_SECONDS", float, 15.0)
CALLRAIL_BUDGET_MAX_WAIT = _setting("CALLRAIL_BUDGET_MAX_WAIT", float, 0.0)  # 0: never wait inline
CALLRAIL_MAX_RETRIES = _setting("CALLRAIL_MAX_RETRIES", int, 3)  # 5xx / network, full-jitter backoff
CALLRAIL_BACKOFF_BASE = _setting("CALLRAIL_BACKOFF_BASE", float, 0.5)
CALLRAIL_BACKOFF_MAX = _setting("CALLRAIL_BACKOFF_MAX", float, 4.0)


def _check_destinations() -> None:
    from apps.callrail.destinations import parse_prefix

    for name, values in (
        ("CALLRAIL_ALLOWED_BASE_URLS", CALLRAIL_ALLOWED_BASE_URLS),
        ("CALLRAIL_GATEWAY_CONTROL_URL", [CALLRAIL_GATEWAY_CONTROL_URL]),
    ):
        for value in values:
            try:
                parse_prefix(value)
            except ValueError as exc:
                raise ImproperlyConfigured(f"{name} is invalid: {exc}") from None


_check_destinations()

# --- Content-Security-Policy (django-csp): no inline script anywhere; behaviour lives in static/js/portal.js.
# Inline style attributes stay allowed (the agency's brand colour, the email preview).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- REST framework
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.tenancy.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.PortalPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": _setting("API_THROTTLE_USER", str, "2000/hour"),
        "anon": _setting("API_THROTTLE_ANON", str, "60/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Agency Portal API",
    "DESCRIPTION": "Every client account and mirrored CallRail resource the caller may see.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",  # vendored by drf-spectacular-sidecar: no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

LOG_FORMAT = _setting("LOG_FORMAT", str, "plain")  # "json": one JSON object per line, for log shippers
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "apps.core.logcontext.LogContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s task=%(task_id)s "
                  "account=%(account)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s %(account)s",
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": _setting("LOG_LEVEL", str, "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # workers log through LOGGING too (with task and account ids)
