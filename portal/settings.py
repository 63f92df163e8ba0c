"""Settings read from the environment.

With no variables set the portal runs embedded: SQLite under var/, Celery tasks eager,
local-memory cache. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.
"""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from portal.api.rest_settings import API_SETTINGS
from portal.api.schema_settings import API_SCHEMA_SETTINGS
from portal.environment import audit_chain_keys, env_bool, env_list

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("PORTAL_DATA_DIR", BASE_DIR / "var"))


DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
# Embedded mode: no servers to install, demo credentials allowed.
EMBEDDED = not DATABASE_URL

# --- Core -------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", default=EMBEDDED)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long random "
            "string (for example: python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DEBUG=1 for local development only."
        )
    SECRET_KEY = "insecure-embedded-development-key-never-use-in-production"


# Audit entries are sealed with HMAC-SHA256 under AUDIT_CHAIN_KEY; AUDIT_CHAIN_OLD_KEYS (the
# same form, comma-separated) still verify the entries sealed before a rotation.
AUDIT_CHAIN_KEY_ID, AUDIT_CHAIN_KEYS = audit_chain_keys(DEBUG)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as static files: no CDN
    "guardian",
    "simple_history",
    "pgtrigger",
    "django_htmx",
    "django_celery_beat",
    "csp",
    "axes",
    "portal",
    "portal.audit",
    "teams",
    "teams.notifications",
    "prompts",
    "prompts.metrics",
    "prompts.evaluations",
    "approvals",
    "integrations",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.request_context.RequestContextMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",  # after WhiteNoise: static files need no policy
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "portal.api.middleware.BodySizeLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",  # answers a locked-out sign-in with the lockout page
    "portal.error_pages.ErrorPagesMiddleware",  # last: the error handlers answer in DEBUG too
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60"))
        )
    }
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "portal.sqlite3",
            # Writers wait for each other instead of failing with "database is locked".
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------------------
# Every cached answer, generation and token lookup lives at most this long, so even a lost
# invalidation heals by itself (the outbox makes losing one unlikely).
RESOLVE_CACHE_MAX_AGE = int(os.environ.get("RESOLVE_CACHE_MAX_AGE", "60"))
# Each Redis call (cache, broker publish) waits at most this long; after a failure, this
# process does not ask Redis again for CACHE_RETRY_AFTER seconds (it uses the database).
REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT", "0.25"))
CACHE_RETRY_AFTER = float(os.environ.get("CACHE_RETRY_AFTER", "1"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "portal"),
            "TIMEOUT": RESOLVE_CACHE_MAX_AGE,
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
                "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
                # A Redis outage reads as a miss: callers answer from the database.
                "IGNORE_EXCEPTIONS": True,
                "CONNECTION_POOL_CLASS": "portal.cache.FailFastConnectionPool",
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "portal.cache"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "TIMEOUT": RESOLVE_CACHE_MAX_AGE,
        }
    }

# --- Celery -----------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "memory://localhost/")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "300"))
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A publish never waits long on a frozen broker: the outbox keeps what could not be sent.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    "max_retries": 0,  # kombu would otherwise sleep 2 s before its first reconnect
}
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_SOCKET_TIMEOUT
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
OUTBOX_DRAIN_SECONDS = float(os.environ.get("OUTBOX_DRAIN_SECONDS", "5"))

# --- Governance ---------------------------------------------------------------------------
# Celery beat re-verifies the whole audit chain continuously, a batch per run; the verify page
# and endpoint check the newest AUDIT_VERIFY_WINDOW entries themselves.
AUDIT_VERIFY_EVERY_SECONDS = float(os.environ.get("AUDIT_VERIFY_EVERY_SECONDS", "60"))
AUDIT_VERIFY_BATCH_SIZE = int(os.environ.get("AUDIT_VERIFY_BATCH_SIZE", "10000"))
AUDIT_VERIFY_WINDOW = int(os.environ.get("AUDIT_VERIFY_WINDOW", "1000"))
# Pending promotion requests older than this expire (Celery beat runs the sweep hourly).
PROMOTION_REQUEST_MAX_AGE_DAYS = int(os.environ.get("PROMOTION_REQUEST_MAX_AGE_DAYS", "14"))
# A request pending this long is listed in the owning team's stale digest (prompts.stale).
PROMOTION_REQUEST_REMIND_DAYS = int(os.environ.get("PROMOTION_REQUEST_REMIND_DAYS", "3"))
# A deprecation's sunset this close is for staff only (consumers get this much warning).
DEPRECATION_MIN_NOTICE_HOURS = int(os.environ.get("DEPRECATION_MIN_NOTICE_HOURS", "24"))
# How many days of resolve counts the stale digest reads for deprecated prompts.
STALE_RESOLVE_WINDOW_DAYS = int(os.environ.get("STALE_RESOLVE_WINDOW_DAYS", "7"))
CELERY_BEAT_SCHEDULE = {
    "drain-outbox": {"task": "portal.tasks.drain_outbox", "schedule": OUTBOX_DRAIN_SECONDS},
    "expire-stale-promotion-requests": {
        "task": "approvals.tasks.expire_stale_requests",
        "schedule": 3600.0,
    },
    "verify-audit-chain": {
        "task": "portal.audit.tasks.verify_chain",
        "schedule": AUDIT_VERIFY_EVERY_SECONDS,
    },
}

# --- Notifications (teams.notifications) ---------------------------------------------------
# E-mail: printed to the console in the embedded mode, sent by SMTP otherwise.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if EMBEDDED
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "prompt-portal@localhost")
# Links in e-mails and webhook bodies start with this.
EMAIL_LINK_BASE_URL = os.environ.get("EMAIL_LINK_BASE_URL", "http://127.0.0.1:8000")
# Webhooks may call private, loopback and link-local addresses only when this is on.
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", default=False)
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "5"))
WEBHOOK_TRIES = int(os.environ.get("WEBHOOK_TRIES", "6"))  # 2, 4, 8, 16, 32 min apart
WEBHOOK_RETRY_BASE_SECONDS = int(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "120"))
# After this many failed attempts in a row a webhook is disabled and its team's owners told.
WEBHOOK_MAX_FAILURES = int(os.environ.get("WEBHOOK_MAX_FAILURES", "10"))

# --- Call events and metrics (prompts.metrics) ---------------------------------------------
# Events older than this are refused and dropped (whole monthly partitions on PostgreSQL).
METRICS_RETENTION_DAYS = int(os.environ.get("METRICS_RETENTION_DAYS", "400"))
# Clocks drift: an event may say it happened up to this far in the future.
METRICS_MAX_FUTURE_SECONDS = int(os.environ.get("METRICS_MAX_FUTURE_SECONDS", "300"))
# Ranges up to this long get exact percentiles from the raw events, longer ones the rollup's.
METRICS_EXACT_MAX_HOURS = int(os.environ.get("METRICS_EXACT_MAX_HOURS", "6"))

# --- Evaluations (prompts.evaluations) -----------------------------------------------------
# A promotion into an environment with requires_evaluation needs passing runs this recent.
EVALUATION_MAX_AGE_DAYS = int(os.environ.get("EVALUATION_MAX_AGE_DAYS", "7"))
# Cases of one run in flight at once (provider calls), per run.
EVALUATION_CONCURRENCY = int(os.environ.get("EVALUATION_CONCURRENCY", "8"))
# One provider call: its timeout, and how often a 429 / 5xx / timeout is tried again.
PROVIDER_TIMEOUT_SECONDS = float(os.environ.get("PROVIDER_TIMEOUT_SECONDS", "30"))
PROVIDER_MAX_RETRIES = int(os.environ.get("PROVIDER_MAX_RETRIES", "3"))
# Providers never reach loopback, private or link-local addresses unless this is on.
PROVIDER_ALLOW_PRIVATE = env_bool("PROVIDER_ALLOW_PRIVATE", default=False)
# Provider keys by environment-variable name, for deployments that keep them in settings
# rather than the environment (the environment wins); never in the database.
PROVIDER_API_KEYS: dict[str, str] = {}
# Playground runs per person.
PLAYGROUND_RATE = os.environ.get("PLAYGROUND_RATE", "30/hour")

# --- Rendering sandbox (prompts.sandbox) ----------------------------------------------------
# Every jinja2 render and check runs in a worker process with these hard limits; a breach
# answers 422 `sandbox` and the worker is replaced.
RENDER_TIME_LIMIT = float(os.environ.get("RENDER_TIME_LIMIT", "1"))  # wall seconds
RENDER_CPU_SECONDS = int(os.environ.get("RENDER_CPU_SECONDS", "2"))  # kernel limit per job
RENDER_MEMORY_MB = int(os.environ.get("RENDER_MEMORY_MB", "256"))  # worker address space
RENDER_WORKERS = int(os.environ.get("RENDER_WORKERS", "2"))  # per web or Celery process

# --- Input sizes ----------------------------------------------------------------------------
# A version's template (or all its messages together) and its model_config, in UTF-8 bytes.
MAX_TEMPLATE_BYTES = int(os.environ.get("MAX_TEMPLATE_BYTES", str(64 * 1024)))
# Justifications, review comments and descriptions, in UTF-8 bytes.
MAX_NOTE_BYTES = int(os.environ.get("MAX_NOTE_BYTES", "4096"))

# Resolve answers may be reused by clients for this long (Cache-Control: private, max-age).
RESOLVE_MAX_AGE_SECONDS = int(os.environ.get("RESOLVE_MAX_AGE_SECONDS", "5"))

# The admin only inspects; simple-history's revert would be a write around the services.
SIMPLE_HISTORY_REVERT_DISABLED = True

# --- Auth -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out sign-ins
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# No guardian "anonymous user" row: anonymous visitors hold no permissions at all.
ANONYMOUS_USER_NAME = None
# Sign-in lockout (django-axes): LOGIN_FAILURE_LIMIT wrong passwords for one username from
# one address lock that pair out for LOGIN_LOCKOUT_MINUTES (429, audited, shown to staff on
# the People page, who can lift it). A right password resets the count.
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "portal.addresses.limit_address"  # IPv6 by /64
AXES_RESET_ON_SUCCESS = True
# A refused try during a lockout is not recorded: it neither prolongs the lockout nor grows
# the attempt row, and the lockout is audited once.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Security (effective when DEBUG is off) ---------------------------------------------
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", default=False)
# Addresses or networks (10.0.0.0/16) of the reverse proxies in front of the portal. Only
# behind them is X-Forwarded-For read, and then only the entries they wrote
# (portal.addresses); empty: the client address is REMOTE_ADDR.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
SECURE_COOKIES = env_bool("SECURE_COOKIES", default=not DEBUG or BEHIND_TLS_PROXY)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# A problem (403 csrf_failed) under /api/, the portal's own page elsewhere.
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS is sent on HTTPS answers only, so it is on by default exactly when TLS is.
SECURE_HSTS_SECONDS = int(
    os.environ.get("SECURE_HSTS_SECONDS", "31536000" if BEHIND_TLS_PROXY else "0")
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
# Preload-list membership is a choice for the owner of the registrable domain (the list only
# takes apex domains, and leaving it takes months); a portal usually lives on a subdomain.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Plain HTTP that reaches the portal through the proxy is redirected to HTTPS; liveness probes
# that call a node directly are not.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=BEHIND_TLS_PROXY)
SECURE_REDIRECT_EXEMPT = [r"^ping/$"]
# Strict everywhere: scripts and styles come from our static files only (no inline code, no
# eval; htmx is configured for it in base.html). Two pages add narrow exceptions of their
# own: the API docs (portal/api/docs.py) and the admin's history page (portal/admin.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# --- I18n, static -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Logging ----------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # The level on the handler too: Django's own loggers (django.request) propagate past root's.
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "level": os.environ.get("LOG_LEVEL", "INFO"),
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = API_SETTINGS  # portal/api/rest_settings.py
SPECTACULAR_SETTINGS = API_SCHEMA_SETTINGS  # portal/api/schema_settings.py
