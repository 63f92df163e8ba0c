#!/usr/bin/env bash
# Runs the whole pytest suite against a private PostgreSQL and Redis (scripts/with-services.sh),
# installing what is missing: Chromium for the browser tests, nginx for the README's proxy
# block (tests/test_live_errors.py). Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
if ((${#missing[@]})); then
    echo "[test.sh] installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

exec scripts/with-services.sh "$PY" -m pytest "$@"
