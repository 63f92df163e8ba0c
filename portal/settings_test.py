"""Test settings: the suite runs against the PostgreSQL and Redis that `make test` starts."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("AUDIT_CHAIN_KEY", "test:test-only-audit-chain-key-not-for-production-0123")

from portal.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
CACHES["default"]["KEY_PREFIX"] = f"test-{os.getpid()}"  # noqa: F405
# Static files come from the app directories through the finders; no collectstatic in tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
