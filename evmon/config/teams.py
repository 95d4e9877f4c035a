"""projects.yaml's owners: `teams:` (where each team's alerts go) and each project's `owner` and `tags`.

A destination is the name of an environment variable that holds it (a webhook URL, an email
address, a Slack incoming-webhook URL), never the value: projects.yaml is committed, the secrets
are not. Grafana's contact points and notification policies and Alertmanager's receivers and routes
are generated from this section; a project without an owner goes to the default route.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evmon.config.sections import AtKey

TEAM_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
TAG_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"  # a valid Prometheus and Grafana label name ('__' is Prometheus's)
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# the labels evmon's alerts carry already (the rules' own, Prometheus's and Grafana's): a tag of one of
# these names would be overwritten by it, or overwrite it
RESERVED_TAGS = frozenset(
    {
        "project", "team", "owner", "alertname", "severity", "column", "group", "metric",
        "columns", "sensitive_column", "threshold", "outlier_kind", "kind", "measure", "segment", "bound", "band",
        "status", "instance", "job", "le", "rulename", "grafana_folder",
    }
)  # fmt: skip


class Team(BaseModel):
    """Where one team's alerts go: each destination the name of an environment variable holding it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_env: str | None = Field(None, pattern=ENV_NAME_PATTERN, description="holds a webhook URL")
    email_env: str | None = Field(None, pattern=ENV_NAME_PATTERN, description="holds an email address")
    slack_env: str | None = Field(None, pattern=ENV_NAME_PATTERN, description="holds a Slack incoming-webhook URL")

    @model_validator(mode="after")
    def _a_destination(self) -> Team:
        if self.webhook_env is None and self.email_env is None and self.slack_env is None:
            raise ValueError("a team needs at least one destination: webhook_env, email_env or slack_env")
        return self

    def destinations(self) -> dict[str, str]:
        """Kind (webhook, email, slack) to the environment variable that holds it, for the set ones."""
        found = {"webhook": self.webhook_env, "email": self.email_env, "slack": self.slack_env}
        return {kind: env for kind, env in found.items() if env is not None}


class Owned(Protocol):
    """A project, as far as its owner is concerned."""

    @property
    def name(self) -> str: ...
    @property
    def owner(self) -> str | None: ...


def check_owners(teams: Mapping[str, Team], projects: Sequence[Owned]) -> None:
    """Each project's owner must be a team of `teams:`; team names must be label-safe."""
    for team in teams:
        if not re.match(TEAM_NAME_PATTERN, team):
            raise AtKey(f"teams.{team}", "expected a team name of lowercase letters, digits, '-' or '_'", team)
    for i, project in enumerate(projects):
        if project.owner is not None and project.owner not in teams:
            known = ", ".join(teams) or "none"
            raise AtKey(
                f"projects[{i}].owner",
                f"project {project.name!r} names team {project.owner!r}, which is not under teams: (teams: {known})",
                project.owner,
                list(teams),
            )


def check_tags(tags: Mapping[str, str]) -> None:
    """Tag names become alert labels: label-safe, and none of the labels evmon sets itself."""
    for name in tags:
        if not re.match(TAG_NAME_PATTERN, name):
            raise AtKey(
                f"tags.{name}",
                "expected a tag name of lowercase letters, digits and '_', starting with a letter (a label name)",
                name,
            )
        if name in RESERVED_TAGS:
            reserved = sorted(RESERVED_TAGS)
            raise AtKey(f"tags.{name}", f"a label evmon sets itself; expected another name than {reserved}")
