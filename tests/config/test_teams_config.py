"""projects.yaml's owners: teams, each project's owner and tags, and the exact messages of their mistakes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evmon.config.loader import load_config
from evmon.errors import ConfigError
from tests.conftest import write_config

TEAMS: dict[str, Any] = {
    "risk": {"webhook_env": "RISK_WEBHOOK_URL", "email_env": "RISK_EMAIL"},
    "mobility": {"slack_env": "MOBILITY_SLACK_URL"},
}


def owned(tmp_path: Path, demo_dir: Path, teams: Any = TEAMS, **credit: Any) -> Path:
    return write_config(
        tmp_path / "projects.yaml", demo_dir, {"teams": teams}, credit_scorecard=credit, taxi_duration={}
    )


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def test_owner_tags_and_teams(tmp_path: Path, demo_dir: Path) -> None:
    config = load_config(owned(tmp_path, demo_dir, owner="risk", tags={"tier": "critical", "domain": "lending"}))
    credit, taxi = config.projects
    assert (credit.owner, credit.tags) == ("risk", {"tier": "critical", "domain": "lending"})
    assert (taxi.owner, taxi.tags) == (None, {})  # no owner: the default route
    assert config.teams["risk"].destinations() == {"webhook": "RISK_WEBHOOK_URL", "email": "RISK_EMAIL"}
    assert config.teams["mobility"].destinations() == {"slack": "MOBILITY_SLACK_URL"}


def test_owner_and_tags_leave_the_config_hash_alone(tmp_path: Path, demo_dir: Path) -> None:
    """Who owns a model changes where its alerts go, not its snapshots: their recorded hash stays."""
    plain = load_config(owned(tmp_path, demo_dir)).projects[0]
    tagged = load_config(owned(tmp_path, demo_dir, owner="risk", tags={"tier": "critical"})).projects[0]
    assert tagged.config_hash() == plain.config_hash()


def test_the_mistakes_and_their_messages(tmp_path: Path, demo_dir: Path) -> None:
    path = owned(tmp_path, demo_dir, owner="rsik")
    assert problems_of(path) == [
        f"{path}: projects[0].owner: project 'credit_scorecard' names team 'rsik', which is not under teams: "
        "(teams: risk, mobility) (got 'rsik'); did you mean 'risk'?"
    ]
    path = owned(tmp_path, demo_dir, teams={}, owner="risk")
    assert problems_of(path) == [
        f"{path}: projects[0].owner: project 'credit_scorecard' names team 'risk', which is not under teams: "
        "(teams: none) (got 'risk')"
    ]
    path = owned(tmp_path, demo_dir, teams={"risk": {}})
    assert problems_of(path) == [
        f"{path}: teams.risk: a team needs at least one destination: webhook_env, email_env or slack_env"
    ]
    path = owned(tmp_path, demo_dir, teams={"risk": {"webhook": "https://hooks.example/x"}})
    assert problems_of(path) == [
        f"{path}: teams.risk.webhook: unknown key 'webhook'; did you mean 'webhook_env'? "
        "expected one of: webhook_env, email_env, slack_env"
    ]
    path = owned(tmp_path, demo_dir, tags={"Tier": "critical"})
    assert problems_of(path) == [
        f"{path}: projects[0].tags.Tier: expected a tag name of lowercase letters, digits and '_', starting with a "
        "letter (a label name) (got 'Tier')"
    ]
    path = owned(tmp_path, demo_dir, tags={"team": "risk"})
    assert problems_of(path) == [
        f"{path}: projects[0].tags.team: a label evmon sets itself; expected another name than "
        "['alertname', 'band', 'bound', 'column', 'columns', 'grafana_folder', 'group', 'instance', 'job', 'kind', "
        "'le', 'measure', 'metric', 'outlier_kind', 'owner', 'project', 'rulename', 'segment', 'sensitive_column', "
        "'severity', 'status', 'team', 'threshold']"
    ]
