#!/usr/bin/env bash
# evmon's two commands on a fresh machine (Python 3.11+ with venv; no Docker, no Postgres):
#   ./run.sh demo [evmon demo options]   install into .venv, then run the demo stack
#   ./run.sh test [pytest options]       install the test extras, run the checks, then the whole test suite
#   ./run.sh check                       ruff, ruff format --check, mypy and the import contract (.importlinter)
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}

venv() {
    if [ ! -x .venv/bin/python ]; then
        "$PYTHON" -m venv .venv
        .venv/bin/python -m pip install -q --upgrade pip
    fi
}

browser() {
    # Streamlit browser tests drive Debian's Chromium through Playwright (no browser download).
    if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) \
            || echo "run.sh: could not install chromium; browser tests will be skipped" >&2
    fi
}

cmd=${1:-}
shift || true
case "$cmd" in
    demo)
        venv
        .venv/bin/python -m pip install -q -e .
        exec .venv/bin/evmon demo "$@"
        ;;
    test)
        venv
        .venv/bin/python -m pip install -q -e '.[test]'
        browser
        .ci/check
        exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
        ;;
    check)
        venv
        .venv/bin/python -m pip install -q -e '.[test]'
        exec .ci/check
        ;;
    *)
        echo "usage: ./run.sh demo [options] | ./run.sh test [pytest options] | ./run.sh check" >&2
        exit 2
        ;;
esac
