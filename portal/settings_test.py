"""Test settings: the suite runs against the PostgreSQL and Redis that `make test` starts."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("AUDIT_CHAIN_KEY", "test:test-only-audit-chain-key-not-for-production-0123")

# Under pytest-xdist each worker has its own Redis (scripts/with-services.sh REDIS_INSTANCES)
# and pytest-django gives it its own database.
_worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
if _worker and os.environ.get(f"REDIS_URL_{_worker}"):
    os.environ["REDIS_URL"] = os.environ[f"REDIS_URL_{_worker}"]

from portal.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
CACHES["default"]["KEY_PREFIX"] = f"test-{os.getpid()}"  # noqa: F405
# Static files come from the app directories through the finders; no collectstatic in tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
