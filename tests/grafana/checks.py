"""What Grafana needs from a query's result, checked on what psycopg returns.

Rules from Grafana's PostgreSQL data source (pkg/tsdb/grafana-postgresql-datasource/sqleng/
sql_engine.go) and its data frames: a time_series result needs a column named `time`; every other
column becomes a float (numeric types) or a label (strings); with label columns the frame is
"long" and data.LongToWide refuses unsorted or null times. Alerting on numeric data needs a table
with exactly one numeric column, the other columns strings (they become labels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from evmon.alerting.labels import TEAM_LABEL, tag_names
from evmon.config.loader import load_config
from tests.conftest import REPO
from tests.grafana.provisioned import Query

# the labels every rule adds for routing: the owner (team) and the repository's tag names (evmon alerting)
OWNER_LABELS = frozenset({TEAM_LABEL, *tag_names(load_config(REPO / "projects.yaml"))})
NUMERIC = {20: "int8", 21: "int2", 23: "int4", 700: "float4", 701: "float8", 1700: "numeric"}
STRING = {25: "text", 1043: "varchar", 19: "name", 1042: "bpchar"}
TIME = {1082: "date", 1114: "timestamp", 1184: "timestamptz"}


@dataclass(frozen=True)
class Result:
    """A query's columns (name, type oid) and rows."""

    columns: list[tuple[str, int]]
    rows: list[tuple[Any, ...]]

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]


def run(conn: psycopg.Connection, sql: str) -> Result:
    cur = conn.execute(sql.encode())  # bytes: psycopg must not treat % in the SQL as placeholders
    assert cur.description is not None, "the query returns no result set"
    columns = [(c.name, c.type_code) for c in cur.description]
    return Result(columns, cur.fetchall())


def check_time_series(query: Query, result: Result) -> None:
    where = query.where
    assert "time" in result.names, f"{where}: a time_series query needs a `time` column, got {result.names}"
    assert len(set(result.names)) == len(result.names), f"{where}: duplicate column names {result.names}"
    t = result.names.index("time")
    assert result.columns[t][1] in TIME or result.columns[t][1] in NUMERIC, f"{where}: `time` is not a time"
    values = [i for i, (_, oid) in enumerate(result.columns) if i != t and oid in NUMERIC]
    labels = [i for i, (_, oid) in enumerate(result.columns) if i != t and oid in STRING]
    odd = [name for i, (name, _) in enumerate(result.columns) if i != t and i not in values and i not in labels]
    assert not odd, f"{where}: columns {odd} are neither numbers nor strings (Grafana cannot chart them)"
    assert values, f"{where}: no numeric column to chart"
    times = [row[t] for row in result.rows]
    assert None not in times, f"{where}: null times"
    assert times == sorted(times), f"{where}: rows not sorted by time (Grafana's long-to-wide refuses them)"
    if labels:
        keys = [(row[t], *(row[i] for i in labels)) for row in result.rows]
        assert len(keys) == len(set(keys)), f"{where}: two rows for one time and series"


def check_table(query: Query, result: Result, declared: Sequence[str], numeric_needed: bool) -> None:
    where = query.where
    assert result.names == list(declared), f"{where}: columns {result.names}, the panel declares {list(declared)}"
    if numeric_needed:
        assert any(oid in NUMERIC for _, oid in result.columns), f"{where}: a stat/gauge needs a numeric column"


def check_alert(query: Query, result: Result) -> list[tuple[dict[str, str], float]]:
    """The alert instances: (labels, value) per row; asserts Grafana's numeric-data shape."""
    where = query.where
    numeric = [i for i, (_, oid) in enumerate(result.columns) if oid in NUMERIC]
    strings = [i for i, (_, oid) in enumerate(result.columns) if oid in STRING]
    assert len(numeric) == 1, f"{where}: alert queries need exactly one numeric column, got {result.columns}"
    assert len(numeric) + len(strings) == len(result.columns), f"{where}: non-string label columns {result.columns}"
    instances = []
    for row in result.rows:
        labels = {result.names[i]: row[i] for i in strings}
        assert None not in labels.values(), f"{where}: a null label in {row}"
        assert row[numeric[0]] is not None, f"{where}: a null value in {row}"
        instances.append((labels, float(row[numeric[0]])))
    keys = [tuple(sorted(labels.items())) for labels, _ in instances]
    assert len(keys) == len(set(keys)), f"{where}: two rows with the same labels"
    return instances


def fires(rule: dict[str, Any], value: float) -> bool:
    """The rule's threshold expression (refId = condition) on one value."""
    item = next(i for i in rule["data"] if i["refId"] == rule["condition"])
    evaluator = item["model"]["conditions"][0]["evaluator"]
    kind, params = evaluator["type"], evaluator["params"]
    if kind == "gt":
        return value > params[0]
    if kind == "lt":
        return value < params[0]
    if kind == "within_range":
        return bool(params[0] < value < params[1])
    if kind == "outside_range":
        return bool(value < params[0] or value > params[1])
    raise AssertionError(f"{rule['uid']}: threshold type {kind!r} is not handled")


def own_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """An instance's labels but the owner's, which are empty in a database where the bridge wrote no owners
    (tests/grafana/test_owner_routing.py checks them where it did)."""
    assert all(labels.get(name, "") == "" for name in OWNER_LABELS), labels
    return {name: value for name, value in labels.items() if name not in OWNER_LABELS}
