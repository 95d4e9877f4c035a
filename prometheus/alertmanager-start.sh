#!/bin/sh
# Starts Alertmanager with the destinations of the environment. WRITTEN BY `evmon alerting` from
# projects.yaml's teams: (CI checks it). docker-compose.yml's alertmanager service runs it.
# Each destination set in the environment goes to a file the config reads (Alertmanager does not
# expand environment variables); an unset one is taken out of the config, and a team left without
# any destination loses its route: one line on stderr, its alerts go to the default receiver.
set -eu
src="${EVMON_ALERTMANAGER_CONFIG:-/etc/alertmanager/alertmanager.yml}"
dir="${EVMON_ALERTMANAGER_DIR:-/tmp/evmon-alertmanager}"
umask 077
mkdir -p "$dir"
cd "$dir"
cp "$src" alertmanager.yml
evmon_file=alertmanager.yml

evmon_keep() {  # VAR VALUE: the file the config reads
    printf '%s' "$2" > "$1"
}

evmon_team() {  # TEAM, then VAR VALUE pairs; edits $evmon_file
    team=$1
    shift
    missing=""
    kept=0
    while [ $# -gt 1 ]; do
        if [ -n "$2" ]; then
            evmon_keep "$1" "$2"
            kept=$((kept + 1))
        else
            sed -i "/# evmon-env $1\$/d" "$evmon_file"
            missing="$missing $1"
        fi
        shift 2
    done
    if [ -n "$missing" ] && [ "$kept" -eq 0 ]; then
        sed -i "/# evmon-team $team\$/d" "$evmon_file"
        echo "evmon: team $team: not set:$missing; its alerts go to the default receiver (EVMON_ALERT_WEBHOOK_URL)" >&2
    elif [ -n "$missing" ]; then
        echo "evmon: team $team: not set:$missing; its alerts go to its other destinations" >&2
    fi
}

if [ -z "${EVMON_ALERT_WEBHOOK_URL:-}" ]; then
    echo "evmon: EVMON_ALERT_WEBHOOK_URL is not set: the default receiver needs it (a webhook URL)" >&2
    exit 2
fi
printf '%s' "$EVMON_ALERT_WEBHOOK_URL" > EVMON_ALERT_WEBHOOK_URL
evmon_team risk EVMON_RISK_WEBHOOK_URL "${EVMON_RISK_WEBHOOK_URL:-}"
exec "${EVMON_ALERTMANAGER_BIN:-/bin/alertmanager}" --config.file=alertmanager.yml "$@"
