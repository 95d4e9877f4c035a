#!/bin/sh
# Starts Grafana with the destinations of the environment. WRITTEN BY `evmon alerting` from
# projects.yaml's teams: (CI checks it). docker-compose.yml's grafana service runs it.
# Grafana fills each ${VAR} of notifications.yaml from its environment, and an empty webhook URL stops
# it: so the provisioning is copied, each destination whose variable is unset is taken out of the copy,
# and a team left without any destination loses its contact point and its route (one line on stderr:
# its alerts go to the default contact point); then Grafana starts on the copy.
set -eu
src="${EVMON_GRAFANA_PROVISIONING:-/etc/grafana/provisioning}"
dir="${EVMON_GRAFANA_PROVISIONING_COPY:-/tmp/evmon-provisioning}"
rm -rf "$dir"
mkdir -p "$dir"
cp -R "$src/." "$dir/"
evmon_file="$dir/alerting/notifications.yaml"

evmon_keep() {  # VAR VALUE: Grafana reads it from its environment
    :
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
    echo "evmon: EVMON_ALERT_WEBHOOK_URL is not set: the default contact point needs it (a webhook URL)" >&2
    exit 2
fi
evmon_team risk EVMON_RISK_WEBHOOK_URL "${EVMON_RISK_WEBHOOK_URL:-}"
export GF_PATHS_PROVISIONING="$dir"
exec "${EVMON_GRAFANA_RUN:-/run.sh}" "$@"
