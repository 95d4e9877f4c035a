"""Alertmanager's receivers and routes from projects.yaml's `teams:` (prometheus/alertmanager.yml), and the
script that starts Alertmanager with the destinations of its environment (prometheus/alertmanager-start.sh).

Alertmanager does not expand environment variables in its file, so a destination is a file the start
script writes from the variable (`url_file` for a webhook, `api_url_file` for Slack), beside the
config it starts Alertmanager with (relative paths, the script runs in that folder). A destination
whose variable is unset at start is taken out of the config (its line ends `# evmon-env VAR`), and a
team left without any destination loses its route (`# evmon-team NAME`), with one line on stderr
naming the variables: that team's alerts then take the default route, nothing is lost. Email goes
through Grafana only: Alertmanager's email needs SMTP settings written in its file.
"""

from __future__ import annotations

from collections.abc import Mapping

from evmon.alerting import start
from evmon.alerting.grafana import DEFAULT_ENV, DEFAULT_POINT, team_point
from evmon.alerting.labels import TEAM_LABEL
from evmon.config.teams import Team

ROUTED = {"webhook": ("webhook_configs", "url_file"), "slack": ("slack_configs", "api_url_file")}

CONFIG_HEADER = """\
# Alertmanager for evmon's Prometheus alerts (docker compose --profile alertmanager). WRITTEN BY
# `evmon alerting` from projects.yaml's teams: (CI checks it: edit projects.yaml and run it, not this).
# Routes by the `team` label (every evmon alert about a project carries its owner: rules/evmon.yml): one
# receiver per team, its webhook and Slack destinations read from files (Alertmanager does not expand
# environment variables here); everything else, a project without an owner, goes to evmon-webhook
# (EVMON_ALERT_WEBHOOK_URL). alertmanager-start.sh writes the files from the environment beside a copy
# of this file, takes out the lines of an unset variable (`# evmon-env VAR`) and the route of a team
# left without a destination (`# evmon-team NAME`, one line on stderr: its alerts take the default
# route), then starts Alertmanager (0.26 or newer for url_file) on that copy. A team's email_env is
# Grafana's only (Alertmanager's email needs SMTP settings in this file): a team with nothing else has
# no route here, its Prometheus alerts go to evmon-webhook.
"""

SCRIPT = """\
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

"""

DEFAULT_CHECK = """
if [ -z "${DEFAULT_ENV:-}" ]; then
    echo "evmon: DEFAULT_ENV is not set: the default receiver needs it (a webhook URL)" >&2
    exit 2
fi
printf '%s' "$DEFAULT_ENV" > DEFAULT_ENV
"""


def _destinations(team: Team) -> dict[str, str]:
    """The team's destinations Alertmanager sends to: kind -> variable."""
    return {kind: env for kind, env in team.destinations().items() if kind in ROUTED}


def render_config(teams: Mapping[str, Team]) -> str:
    """alertmanager.yml as committed: default receiver and route, then one route and receiver per team."""
    lines = [
        "route:",
        f"  receiver: {DEFAULT_POINT}",
        "  group_by: [alertname, project]   # one notification per alert and project, as Grafana's policy",
        "  group_wait: 30s",
        "  group_interval: 5m",
        "  repeat_interval: 4h",
    ]
    routed = {name: _destinations(team) for name, team in sorted(teams.items())}
    routed = {name: kinds for name, kinds in routed.items() if kinds}
    if routed:
        lines.append("  routes:")
        for name in routed:
            matcher = f"'{TEAM_LABEL}=\"{name}\"'"
            lines.append(f"    - {{receiver: {team_point(name)}, matchers: [{matcher}]}}  # evmon-team {name}")
    lines += [
        "",
        "receivers:",
        f"  - name: {DEFAULT_POINT}",
        "    webhook_configs:",
        f"      - {{url_file: {DEFAULT_ENV}, send_resolved: true}}",
    ]
    for name, kinds in routed.items():
        lines.append(f"  - name: {team_point(name)}")
        for kind, env in kinds.items():
            key, file_key = ROUTED[kind]
            lines.append(f"    {key}:")
            lines.append(f"      - {{{file_key}: {env}, send_resolved: true}}  # evmon-env {env}")
    return CONFIG_HEADER + "\n".join(lines) + "\n"


def render_script(teams: Mapping[str, Team]) -> str:
    """alertmanager-start.sh as committed."""
    calls = start.team_calls({name: _destinations(team).values() for name, team in teams.items()})
    return (
        SCRIPT
        + start.team_function(DEFAULT_ENV)
        + DEFAULT_CHECK.replace("DEFAULT_ENV", DEFAULT_ENV)
        + calls
        + 'exec "${EVMON_ALERTMANAGER_BIN:-/bin/alertmanager}" --config.file=alertmanager.yml "$@"\n'
    )
