"""AUDIT_CHAIN_KEY is read like SECRET_KEY: required when DEBUG is off, a fixed development key
(id `dev`) in embedded/DEBUG mode, and a clear ImproperlyConfigured message when it is wrong."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OLD_SECRET = "old-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
NEW_SECRET = "new-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
PRINT_KEYS = "print(settings.AUDIT_CHAIN_KEY_ID, sorted(settings.AUDIT_CHAIN_KEYS))"


def _probe(tmp_path, **env):
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AUDIT_CHAIN_")
        and key not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; {PRINT_KEYS}",
        ],
        cwd=ROOT,
        env=kept
        | {"DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_DATA_DIR": str(tmp_path)}
        | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_debug_the_key_is_required(tmp_path):
    result = _probe(tmp_path, DEBUG="0")

    assert result.returncode != 0
    assert "ImproperlyConfigured: AUDIT_CHAIN_KEY is not set." in result.stderr


def test_embedded_mode_uses_a_fixed_development_key(tmp_path):
    result = _probe(tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["dev", "['dev']"]


def test_the_current_key_and_the_old_ones_are_read(tmp_path):
    result = _probe(
        tmp_path,
        DEBUG="0",
        AUDIT_CHAIN_KEY=f"k2:{NEW_SECRET}",
        AUDIT_CHAIN_OLD_KEYS=f"k1:{OLD_SECRET}, k0:{OLD_SECRET}",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["k2", "['k0',", "'k1',", "'k2']"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AUDIT_CHAIN_KEY": NEW_SECRET}, "AUDIT_CHAIN_KEY must be '<key-id>:<secret>'"),
        ({"AUDIT_CHAIN_KEY": "k1:short"}, "AUDIT_CHAIN_KEY must be '<key-id>:<secret>'"),
        (
            {"AUDIT_CHAIN_KEY": f"k1:{NEW_SECRET}", "AUDIT_CHAIN_OLD_KEYS": "k0"},
            "AUDIT_CHAIN_OLD_KEYS must be '<key-id>:<secret>'",
        ),
        (
            {"AUDIT_CHAIN_KEY": f"k1:{NEW_SECRET}", "AUDIT_CHAIN_OLD_KEYS": f"k1:{OLD_SECRET}"},
            "AUDIT_CHAIN_OLD_KEYS holds key id 'k1' with another secret",
        ),
    ],
    ids=["no-key-id", "short-secret", "old-key-without-id", "one-id-two-secrets"],
)
def test_a_malformed_key_is_refused_without_showing_the_secret(tmp_path, env, message):
    result = _probe(tmp_path, DEBUG="0", **env)

    assert result.returncode != 0
    assert message in result.stderr
    assert NEW_SECRET not in result.stderr
    assert OLD_SECRET not in result.stderr
