"""The labels an alert about a project carries for routing: `team` (its owner) and one per tag name.

Tag names are free (projects.yaml), but a Grafana rule's SQL names each label column and a PromQL
`group_left` lists each label it copies, so the rules name the tag names of one projects.yaml: their
label lines are written by `evmon alerting` (the rest of each rule is written by hand), and CI checks
them against the repository's projects.yaml. A project without an owner or without a tag gets an
empty value, which both Grafana (when it hands an alert to its Alertmanager) and Prometheus drop: no
`team` label, so its alerts take the default route.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from evmon.config.model import EvmonConfig
from evmon.errors import EvmonError

TEAM_LABEL = "team"
INFO_METRIC = "evmon_project_info"  # the bridge's gauge: 1 per project, labels project, team and the tags
INFO_RULE = "project:evmon_project_owner:info"  # one series per project (prometheus/rules/evmon.yml)

# the generated line of each Grafana rule's SQL, and the two generated fragments of the Prometheus rules
_GRAFANA_LINE = re.compile(r"^(?P<indent>[ \t]*)SELECT r\.\*, coalesce\(o\.owner, ''\) AS team\b.*$", re.M)
_PROM_JOIN = re.compile(r"group_left \(team(?:, \w+)*\) " + re.escape(INFO_RULE))
_PROM_INFO = re.compile(r"max by \(project, team(?:, \w+)*\) \(" + INFO_METRIC + r"\)")


def tag_names(config: EvmonConfig) -> list[str]:
    """Every tag name of any project, sorted: one label each."""
    return sorted({name for project in config.projects for name in project.tags})


def grafana_select(tags: Sequence[str]) -> str:
    """The first line of each Grafana rule's SQL: the rule's own columns, then the owner's as labels."""
    columns = "".join(f", coalesce(o.tags ->> '{tag}', '') AS \"{tag}\"" for tag in tags)
    return f"SELECT r.*, coalesce(o.owner, '') AS team{columns}"


def prometheus_join(tags: Sequence[str]) -> str:
    """What each Prometheus alert's expression is multiplied with (on project) to carry team and tags."""
    return f"group_left ({', '.join([TEAM_LABEL, *tags])}) {INFO_RULE}"


def prometheus_info(tags: Sequence[str]) -> str:
    return f"max by ({', '.join(['project', TEAM_LABEL, *tags])}) ({INFO_METRIC})"


def rewrite_grafana_rules(text: str, tags: Sequence[str], name: str) -> str:
    """The Grafana rules file with each rule's label line for `tags`."""
    found = len(_GRAFANA_LINE.findall(text))
    if found == 0:
        raise EvmonError(f"{name}: no line `SELECT r.*, coalesce(o.owner, '') AS team...`: not evmon's alert rules")
    return _GRAFANA_LINE.sub(lambda m: m.group("indent") + grafana_select(tags), text)


def rewrite_prometheus_rules(text: str, tags: Sequence[str], name: str) -> str:
    """The Prometheus rules file with its owner joins and its owner recording rule for `tags`."""
    if not _PROM_JOIN.search(text) or len(_PROM_INFO.findall(text)) != 1:
        raise EvmonError(f"{name}: expected one `{prometheus_info([])}` and joins `{prometheus_join([])}`")
    text = _PROM_JOIN.sub(prometheus_join(tags), text)
    return _PROM_INFO.sub(prometheus_info(tags), text)
