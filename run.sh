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

system_packages() {
    # Debian packages the tests drive (root with apt-get only): Chromium for the Streamlit browser
    # tests (Playwright drives it; no browser download), Prometheus for the rules' unit tests
    # (promtool) and a real scrape (prometheus; without the node exporter it recommends), and
    # Alertmanager for the alerting config (amtool, and an alert delivered to a webhook), and nginx as
    # the reverse proxy in front of the app (the tests start their own, on a free port). Where systemd
    # runs, Debian also starts their services (on :9090, :9093, :80): `systemctl disable --now
    # prometheus prometheus-alertmanager nginx`.
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt_install /usr/bin/chromium chromium
        apt_install /usr/bin/promtool prometheus --no-install-recommends
        apt_install /usr/bin/amtool prometheus-alertmanager --no-install-recommends
        apt_install /usr/sbin/nginx nginx-light --no-install-recommends
    fi
}

apt_install() {
    local binary=$1 package=$2
    shift 2
    if [ ! -x "$binary" ]; then
        (apt-get install -y -q "$@" "$package" >/dev/null 2>&1 \
            || (apt-get update -q >/dev/null && apt-get install -y -q "$@" "$package" >/dev/null)) \
            || echo "run.sh: could not install $package; the tests that need it will be skipped (and fail under CI=true)" >&2
    fi
}

cmd=${1:-}
shift || true
case "$cmd" in
    demo)
        venv
        .venv/bin/python -m pip install -q -e '.[online,explain]'  # the demo serves its credit model with evmon.online and explains both models (shap, skops)
        exec .venv/bin/evmon demo "$@"
        ;;
    test)
        venv
        .venv/bin/python -m pip install -q -e '.[test]'
        system_packages
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
