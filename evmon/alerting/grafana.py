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
from collections.abc import Mapping
from typing import Any

import yaml

from evmon.alerting.labels import TEAM_LABEL
from evmon.config.teams import Team

DEFAULT_POINT = "evmon-webhook"
DEFAULT_ENV = "EVMON_ALERT_WEBHOOK_URL"
FOLDER = "evmon"  # the rules' folder title (grafana/provisioning/alerting/evmon.yaml)
MAX_UID = 40  # Grafana's longest uid

HEADER = """\
# Where evmon's Grafana alerts go. WRITTEN BY `evmon alerting` from projects.yaml's teams: (CI checks
# it against the generator: edit projects.yaml, then run `evmon alerting`, not this file).
# One contact point per team, one receiver per destination: Grafana fills each ${VAR} from its
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
    """notifications.yaml as committed."""
    body = yaml.safe_dump(notifications(teams), sort_keys=False, default_flow_style=None, width=110)
    return HEADER + body
