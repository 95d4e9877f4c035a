"""Three teams and five projects, one without an owner: the fleet the alert routing tests send alerts about."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from tests.conftest import REPO

CREDIT, TAXI = "credit_scorecard", "taxi_duration"
TEAMS = {
    "risk": {"webhook_env": "RISK_WEBHOOK_URL", "email_env": "RISK_EMAIL"},
    "mobility": {"slack_env": "MOBILITY_SLACK_URL"},
    "platform": {"webhook_env": "PLATFORM_WEBHOOK_URL"},
}
# five projects, one without an owner: (owner, tags)
FLEET: dict[str, tuple[str | None, dict[str, str]]] = {
    CREDIT: ("risk", {"tier": "critical", "domain": "lending"}),
    "fraud": ("risk", {"tier": "low"}),
    TAXI: ("mobility", {"domain": "mobility"}),
    "churn": ("platform", {}),
    "orphan": (None, {"tier": "critical"}),
}


def fleet_config(tmp_path: Path, fleet: dict[str, tuple[str | None, dict[str, str]]] = FLEET) -> EvmonConfig:
    """projects.yaml with `teams:` and the fleet's projects (the demo's credit project under each name)."""
    raw = yaml.safe_load((REPO / "projects.yaml").read_text())
    template = next(p for p in raw["projects"] if p["name"] == CREDIT)
    projects = []
    for name, (owner, tags) in fleet.items():
        project = copy.deepcopy(template) | {"name": name, "tags": tags}
        project.pop("owner", None)
        projects.append(project | ({"owner": owner} if owner else {}))
    raw |= {"teams": TEAMS, "projects": projects}
    (tmp_path / "projects.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_config(tmp_path / "projects.yaml")
