"""The bridge's owner gauge: evmon_project_info{project, team, <one label per tag name>} 1.

Read at scrape time from evmon.project_owners (what the bridge wrote from projects.yaml: bridge/owners.py,
so a removed project keeps its owner), on the collector's connection. Prometheus's rules join it on
`project` to carry the owner and the tags on every alert about a project (prometheus/rules/evmon.yml),
and Alertmanager routes on `team`. Every series has the same label names (the tag names of every
project); a project without an owner or without a tag has '' there, which Prometheus stores as no label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from prometheus_client.core import GaugeMetricFamily, Metric

from evmon.alerting.labels import INFO_METRIC, TEAM_LABEL

_OWNERS = "SELECT project, owner, tags FROM evmon.project_owners ORDER BY project"

Row = tuple[str, str | None, Mapping[str, Any]]


def read_owners(conn: psycopg.Connection) -> list[Row]:
    return [(str(p), o, dict(t or {})) for p, o, t in conn.execute(_OWNERS).fetchall()]


def owner_info(rows: list[Row]) -> Metric:
    """The info gauge of evmon.project_owners's rows."""
    tags = sorted({name for _, _, tagged in rows for name in tagged})
    family = GaugeMetricFamily(
        INFO_METRIC,
        "1 per project: its owner (team, projects.yaml's owner) and its tags as labels, for the alerts' routes",
        labels=["project", TEAM_LABEL, *tags],
    )
    for project, owner, tagged in rows:
        family.add_metric([project, owner or "", *(str(tagged.get(name, "")) for name in tags)], 1.0)
    return family
