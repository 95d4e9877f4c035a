"""Each project's alert thresholds (projects.yaml `fairness.thresholds`, `outliers.thresholds`,
`model.thresholds`) in evmon.alert_thresholds, for Grafana's alert rules.

Why a table the bridge writes on every sync: a provisioned Grafana rule compares a query's value with
one constant, and the thresholds are per project, in projects.yaml, which Grafana cannot read. The
alternatives were worse: one generated rule per project needs a generator run and a Grafana restart
for each change; a threshold written into each day's snapshot would bind a day to the config of the
day it was computed (a changed threshold would apply only to days run again). The bridge already runs
beside projects.yaml, so on every sync it writes each project's thresholds into one small table, and
the rules' SQL joins it and returns the margin (the value minus its threshold), compared with 0. A
changed projects.yaml is read again at the next sync (when its size or mtime changed), so a changed
threshold applies to the next evaluation after that sync, without touching Grafana. A projects.yaml
that no longer loads keeps the thresholds last written, with one warning per distinct problem. A
project without a `fairness` or `outliers` section gets no rows: the rules fall back to the
sections' defaults (tests/grafana check that the SQL defaults are the config's).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import psycopg

from evmon.bridge.config_watch import watched
from evmon.config.model import EvmonConfig

log = logging.getLogger(__name__)

Thresholds = dict[tuple[str, str], float]  # (project, threshold name) -> value


def thresholds_of(config: EvmonConfig) -> Thresholds:
    """The thresholds of every project with a `fairness`, `outliers` or `model` section."""
    out: Thresholds = {}
    for project in config.projects:
        sections: list[Mapping[str, float]] = []
        if project.fairness is not None:
            sections.append(project.fairness.thresholds.model_dump())
        if project.outliers is not None:
            sections.append(project.outliers.thresholds.model_dump())
        if project.model is not None:
            sections.append(project.model.thresholds.model_dump())
        for section in sections:
            out.update({(project.name, name): float(value) for name, value in section.items()})
    return out


def from_config_file(config: EvmonConfig) -> Callable[[], Thresholds]:
    """The thresholds of `config`, then of its projects.yaml read again whenever the file changed."""
    return watched(config, thresholds_of, "alert thresholds")


def write(conn: psycopg.Connection, thresholds: Thresholds) -> bool:
    """Make evmon.alert_thresholds hold exactly `thresholds` (one transaction); whether anything changed."""
    with conn.transaction():
        held = {(p, n): v for p, n, v in conn.execute("SELECT project, threshold, value FROM evmon.alert_thresholds")}
        if held == thresholds:
            return False
        conn.execute("DELETE FROM evmon.alert_thresholds")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO evmon.alert_thresholds (project, threshold, value) VALUES (%s, %s, %s)",
                [(p, n, v) for (p, n), v in sorted(thresholds.items())],
            )
    log.info("alert thresholds: %d written", len(thresholds))
    return True
