"""Grafana's contact points and notification policy from projects.yaml's `teams:` (notifications.yaml).

One contact point per team, one receiver per destination, each destination a `${VAR}` that Grafana
fills from its environment when it reads the file (provisioning/values: os.ExpandEnv); the default
contact point `evmon-webhook` (EVMON_ALERT_WEBHOOK_URL) takes every alert without a team. The policy
tree: evmon's folder in one group per rule and project, then one child route per team matching the
alert's `team` label (alerts carry it from evmon.project_owners: grafana/provisioning/alerting/evmon.yaml),
no `continue`: a team's alerts go to that team only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from evmon.alerting import start
from evmon.alerting.labels import TEAM_LABEL
from evmon.config.teams import Team

DEFAULT_POINT = "evmon-webhook"
DEFAULT_ENV = "EVMON_ALERT_WEBHOOK_URL"
FOLDER = "evmon"  # the rules' folder title (grafana/provisioning/alerting/evmon.yaml)
MAX_UID = 40  # Grafana's longest uid

HEADER = """\
# Where evmon's Grafana alerts go. WRITTEN BY `evmon alerting` from projects.yaml's teams: (CI checks
# it against the generator: edit projects.yaml, then run `evmon alerting`, not this file).
# One contact point per team, one receiver per destination: Grafana fills each variable from its
# environment (docker-compose.yml passes them from .env). A webhook receiver POSTs Grafana's webhook
# JSON (status, labels, annotations, links) when an alert fires and again when it resolves; an email
# receiver needs Grafana's SMTP settings (GF_SMTP_*); a Slack one takes an incoming-webhook URL.
# The policy: evmon's alerts (folder `evmon`) in one group per rule and project; an alert whose `team`
# label names a team (the project's owner, a label of every evmon rule) goes to that team's contact
# point, every other one (a project without an owner) to evmon-webhook (EVMON_ALERT_WEBHOOK_URL).
# A provisioned policy tree replaces the organisation's whole tree (the default e-mail route too).
"""


def team_point(team: str) -> str:
    """A team's contact point name."""
    return f"evmon-team-{team}"


def _uid(team: str, kind: str) -> str:
    uid = f"evmon-{team}-{kind}"
    if len(uid) <= MAX_UID:
        return uid
    return f"evmon-{hashlib.sha256(team.encode()).hexdigest()[:16]}-{kind}"


def _receiver(team: str, kind: str, env: str) -> dict[str, Any]:
    value = f"${{{env}}}"
    options: dict[str, dict[str, Any]] = {
        "webhook": {"url": value, "httpMethod": "POST"},
        "email": {"addresses": value, "singleEmail": True},
        "slack": {"url": value},
    }
    settings = options[kind]
    return {"uid": _uid(team, kind), "type": kind, "disableResolveMessage": False, "settings": settings}


def notifications(teams: Mapping[str, Team]) -> dict[str, Any]:
    """The provisioning document: contact points and the policy tree."""
    points: list[dict[str, Any]] = [
        {
            "orgId": 1,
            "name": DEFAULT_POINT,
            "receivers": [
                {
                    "uid": DEFAULT_POINT,
                    "type": "webhook",
                    "disableResolveMessage": False,
                    "settings": {"url": f"${{{DEFAULT_ENV}}}", "httpMethod": "POST"},
                }
            ],
        }
    ]
    routes = []
    for name in sorted(teams):
        receivers = [_receiver(name, kind, env) for kind, env in teams[name].destinations().items()]
        points.append({"orgId": 1, "name": team_point(name), "receivers": receivers})
        routes.append({"receiver": team_point(name), "object_matchers": [[TEAM_LABEL, "=", name]]})
    folder_route: dict[str, Any] = {
        "receiver": DEFAULT_POINT,
        "object_matchers": [["grafana_folder", "=", FOLDER]],
        "group_by": ["grafana_folder", "alertname", "project"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
    }
    if routes:
        folder_route["routes"] = routes
    policy = {
        "orgId": 1,
        "receiver": DEFAULT_POINT,
        "group_by": ["grafana_folder", "alertname"],
        "routes": [folder_route],
    }
    return {"apiVersion": 1, "contactPoints": points, "policies": [policy]}


def render(teams: Mapping[str, Team]) -> str:
    """notifications.yaml as committed: the document of notifications(), one receiver and one team route a
    line (JSON flow mappings), marked for the start script (`# evmon-env VAR`, `# evmon-team NAME`)."""
    document = notifications(teams)
    lines = ["apiVersion: 1", "contactPoints:"]
    for point in document["contactPoints"]:
        team = point["name"].removeprefix("evmon-team-") if point["name"] != DEFAULT_POINT else None
        mark = f"  # evmon-team {team}" if team else ""
        lines += [f"  - orgId: {point['orgId']}{mark}", f"    name: {point['name']}{mark}", f"    receivers:{mark}"]
        for receiver in point["receivers"]:
            env = receiver["settings"].get("url") or receiver["settings"].get("addresses")
            env_mark = f"  # evmon-env {env[2:-1]}" if team else ""
            lines.append(f"      - {json.dumps(receiver)}{env_mark}")
    [policy] = document["policies"]
    [folder] = policy["routes"]
    lines += [
        "policies:",
        f"  - orgId: {policy['orgId']}",
        f"    receiver: {policy['receiver']}",
        f"    group_by: {json.dumps(policy['group_by'])}",
        "    routes:",
        f"      - receiver: {folder['receiver']}",
        f"        object_matchers: {json.dumps(folder['object_matchers'])}",
        f"        group_by: {json.dumps(folder['group_by'])}",
        *(f"        {key}: {folder[key]}" for key in ("group_wait", "group_interval", "repeat_interval")),
    ]
    if folder.get("routes"):
        lines.append("        routes:")
        for route in folder["routes"]:
            team = route["receiver"].removeprefix("evmon-team-")
            lines.append(f"          - {json.dumps(route)}  # evmon-team {team}")
    return HEADER + "\n".join(lines) + "\n"


SCRIPT = """\
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

"""

DEFAULT_CHECK = """
if [ -z "${DEFAULT_ENV:-}" ]; then
    echo "evmon: DEFAULT_ENV is not set: the default contact point needs it (a webhook URL)" >&2
    exit 2
fi
"""


def render_script(teams: Mapping[str, Team]) -> str:
    """grafana/grafana-start.sh as committed."""
    calls = start.team_calls({name: team.destinations().values() for name, team in teams.items()})
    return (
        SCRIPT
        + start.team_function(DEFAULT_ENV)
        + DEFAULT_CHECK.replace("DEFAULT_ENV", DEFAULT_ENV)
        + calls
        + 'export GF_PATHS_PROVISIONING="$dir"\n'
        + 'exec "${EVMON_GRAFANA_RUN:-/run.sh}" "$@"\n'
    )
