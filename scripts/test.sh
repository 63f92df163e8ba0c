#!/usr/bin/env bash
# Runs the whole pytest suite against a private PostgreSQL and Redis (scripts/with-services.sh),
# installing Chromium for the browser tests when it is missing. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

if [ ! -x /usr/bin/chromium ]; then
    echo "[test.sh] installing chromium" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

exec scripts/with-services.sh "$PY" -m pytest "$@"
