"""The suite really runs on PostgreSQL and Redis, and the embedded default really is embedded."""

import os
import subprocess
import sys
import uuid
from io import StringIO
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


def test_database_is_postgresql():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("select version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL")


def test_cache_round_trips_through_redis():
    key, value = f"probe-{uuid.uuid4()}", {"answer": 42}
    cache.set(key, value, timeout=30)

    assert cache.get(key) == value
    raw = redis.Redis.from_url(settings.REDIS_URL)
    assert raw.exists(cache.make_key(key)) == 1
    cache.delete(key)
    assert raw.exists(cache.make_key(key)) == 0


def test_migrations_are_complete():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def _embedded(env: dict[str, str], argv: list[str]) -> subprocess.CompletedProcess:
    """Run `argv` in a process configured like `make run` (no service URLs) plus `env`."""
    clean_env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    return subprocess.run(
        argv,
        cwd=ROOT,
        env={**clean_env, **env, "DJANGO_SETTINGS_MODULE": "portal.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _django_setting_probe(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    setup = "import django; django.setup(); from django.conf import settings; "
    return _embedded(env, [sys.executable, "-c", setup + code])


def _manage(env: dict[str, str], args: list[str]) -> subprocess.CompletedProcess:
    return _embedded(env, [sys.executable, "manage.py", *args])


def test_embedded_default_uses_sqlite_eager_celery_and_local_memory_cache(tmp_path):
    result = _django_setting_probe(
        {"PORTAL_DATA_DIR": str(tmp_path)},
        "print(settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME'], "
        "settings.CELERY_TASK_ALWAYS_EAGER, settings.CACHES['default']['BACKEND'], settings.DEBUG)",
    )

    assert result.returncode == 0, result.stderr
    engine, name, eager, cache_backend, debug = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert name == str(tmp_path / "portal.sqlite3")
    assert eager == "True"
    assert cache_backend == "django.core.cache.backends.locmem.LocMemCache"
    assert debug == "True"


def test_production_settings_are_read_from_the_environment():
    """Parsing only (nothing connects to these hosts): the tests above use the suite's real
    PostgreSQL and Redis."""
    result = _django_setting_probe(
        {
            "DATABASE_URL": "postgres://u:p@db.example:5432/portal",
            "REDIS_URL": "redis://cache.example:6379/1",
            "SECRET_KEY": "x" * 50,
            "ALLOWED_HOSTS": "portal.example,api.example",
        },
        "print(settings.DATABASES['default']['ENGINE'], settings.CACHES['default']['BACKEND'], "
        "settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER, settings.DEBUG, "
        "','.join(settings.ALLOWED_HOSTS))",
    )

    assert result.returncode == 0, result.stderr
    engine, cache_backend, broker, eager, debug, hosts = result.stdout.split()
    assert engine == "django.db.backends.postgresql"
    assert cache_backend == "django_redis.cache.RedisCache"
    assert broker == "redis://cache.example:6379/1"
    assert (eager, debug) == ("False", "False")
    assert hosts == "portal.example,api.example"


def test_debug_off_without_secret_key_refuses_to_start(tmp_path):
    result = _django_setting_probe(
        {"DEBUG": "0", "PORTAL_DATA_DIR": str(tmp_path)}, "print('started')"
    )

    assert result.returncode != 0
    assert "started" not in result.stdout
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff_is_clean(command):
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), *command, str(ROOT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_embedded_search_matches_words_of_templates_and_chat_messages(tmp_path):
    """The embedded default (SQLite) has no full-text search: the plain fallback still finds a
    chat prompt by its messages' words, and never by the JSON keys they are stored in."""
    env = {"PORTAL_DATA_DIR": str(tmp_path)}
    for command in (["migrate", "--noinput", "-v0"], ["bootstrap_demo"]):
        done = _manage(env, command)
        assert done.returncode == 0, done.stderr
    result = _django_setting_probe(
        env,
        "from django.contrib.auth import get_user_model; from prompts import catalog, selectors; "
        "user = get_user_model().objects.get(username='admin'); "
        "visible = selectors.prompts_visible_to(user=user); "
        "print(*[','.join(p.full_name for p in catalog.search(visible, q)) or '-' "
        "for q in ('polite support agent', 'content', 'gpt-4o-mini')])",
    )

    assert result.returncode == 0, result.stderr
    polite, content, model = result.stdout.split()
    assert polite == "support/refund-reply"  # a chat prompt's system message
    assert content == "-"
    assert "support/refund-reply" in model.split(",")
