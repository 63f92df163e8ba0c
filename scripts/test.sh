#!/usr/bin/env bash
# Runs the whole pytest suite against a private PostgreSQL and Redis (scripts/with-services.sh),
# installing what is missing: Chromium for the browser tests, nginx for the README's proxy
# block (tests/test_live_errors.py), axe-core for the accessibility checks (the exact version
# in tests/browser/axe/package-lock.json), promptfoo for the parity test (the exact version in
# tests/evaluations/promptfoo/package-lock.json). Arguments go to pytest.
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

axe=tests/browser/axe
if [ ! -f "$axe/node_modules/axe-core/axe.min.js" ] \
    || [ "$axe/package-lock.json" -nt "$axe/node_modules/.package-lock.json" ]; then
    echo "[test.sh] installing axe-core (npm ci in $axe)" >&2
    npm ci --prefix "$axe" --no-audit --no-fund --loglevel=error >/dev/null
fi

# The whole suite (no arguments: what `make test` and CI run) is spread over TEST_WORKERS
# pytest-xdist workers (default 2, one per core), each with its own database and Redis.
if (($# == 0)); then
    workers=${TEST_WORKERS:-2}
    set -- -n "$workers" --dist loadfile
    export REDIS_INSTANCES=$workers
fi
# promptfoo's CLI for tests/evaluations/test_parity.py: about a minute to install, so it installs
# in the background while the suite runs (the test waits for it); later runs find it in place.
pf=tests/evaluations/promptfoo
if [ ! -x "$pf/node_modules/.bin/promptfoo" ] \
    || [ "$pf/package-lock.json" -nt "$pf/node_modules/.package-lock.json" ]; then
    mkdir -p var
    find var -maxdepth 1 -name promptfoo-install.lock -mmin +15 -exec rmdir {} + # a killed one
    if mkdir var/promptfoo-install.lock 2>/dev/null; then
        echo "[test.sh] installing promptfoo in the background (npm ci in $pf)" >&2
        rm -f var/promptfoo-install.rc
        (
            npm ci --prefix "$pf" --no-audit --no-fund --loglevel=error \
                >var/promptfoo-install.log 2>&1
            echo $? >var/promptfoo-install.rc
            rmdir var/promptfoo-install.lock
        ) &
    fi
fi

exec scripts/with-services.sh "$PY" -m pytest "$@"
