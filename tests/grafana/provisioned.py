"""The provisioned Grafana files as data: dashboards, their queries and variables, alert rules.

Shared by the grafana tests and bench/grafana_queries.py. `load_dashboards` gives the SQL dashboards
(every panel a query of the Postgres datasource), `load_prometheus_dashboards` the PromQL one(s),
`load_all_dashboards` both. Variables are resolved the way Grafana
resolves them on a dashboard load: in order, query variables by running their SQL (expanded with
the variables before them), custom variables from their comma-separated values; "All" selected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.grafana.grafana_sql import ALL, TimeRange, Variable, expand, panel_interval

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
PROVISIONING = GRAFANA / "provisioning"
DEFAULT_INTERVAL = timedelta(hours=1)
PANEL_WIDTH_PX = 1000  # maxDataPoints of a panel that sets none: its width
PROMETHEUS_TYPE = "prometheus"  # the datasource type of the Prometheus dashboards' panels


@dataclass(frozen=True)
class Query:
    """One SQL query Grafana runs: a panel target, a variable's query, or an alert rule's query."""

    kind: str  # "panel", "variable" or "alert"
    where: str  # for messages: dashboard / panel / refId, or the alert rule
    sql: str
    format: str  # "time_series" or "table"
    dashboard: dict[str, Any] = field(default_factory=dict, repr=False)
    panel: dict[str, Any] = field(default_factory=dict, repr=False)
    rule: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def title(self) -> str:
        return str(self.panel.get("title") or self.rule.get("title") or self.where)

    def interval(self, time_range: TimeRange) -> timedelta:
        """$__interval for this query: a panel's from its maxDataPoints (else a 1000 px width) and min interval."""
        if self.kind != "panel":
            return DEFAULT_INTERVAL
        points = int(self.panel.get("maxDataPoints") or PANEL_WIDTH_PX)
        return panel_interval(time_range, points, str(self.panel.get("interval") or "1m"))


@dataclass(frozen=True)
class PromQuery:
    """One PromQL query of a Prometheus dashboard's panel."""

    where: str  # for messages: dashboard / panel / refId
    expr: str
    legend: str  # legendFormat: {{label}} templates
    instant: bool
    panel: dict[str, Any] = field(default_factory=dict, repr=False)


def load_all_dashboards() -> list[dict[str, Any]]:
    """Every dashboard of grafana/dashboards: the SQL ones and the Prometheus ones."""
    return [json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))]


def is_prometheus(dashboard: Mapping[str, Any]) -> bool:
    """Whether the dashboard's panels query Prometheus (PromQL) rather than Postgres (SQL)."""
    return any(
        (target.get("datasource") or {}).get("type") == PROMETHEUS_TYPE
        for panel in all_panels(dashboard)
        for target in panel.get("targets", [])
    )


def load_dashboards() -> list[dict[str, Any]]:
    """The SQL dashboards: every panel and variable a query of the Postgres datasource."""
    return [d for d in load_all_dashboards() if not is_prometheus(d)]


def load_prometheus_dashboards() -> list[dict[str, Any]]:
    return [d for d in load_all_dashboards() if is_prometheus(d)]


def promql_queries(dashboard: Mapping[str, Any]) -> list[PromQuery]:
    out = []
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            where = f"{dashboard['uid']} / panel {panel['id']} {panel.get('title')!r} / {target.get('refId')}"
            legend = str(target.get("legendFormat") or "")
            out.append(PromQuery(where, target["expr"], legend, bool(target.get("instant")), panel))
    return out


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def all_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def panel_queries(dashboard: Mapping[str, Any]) -> list[Query]:
    out = []
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            where = f"{dashboard['uid']} / panel {panel['id']} {panel.get('title')!r} / {target.get('refId')}"
            out.append(
                Query("panel", where, target["rawSql"], target.get("format", "time_series"), dict(dashboard), panel)
            )
    return out


def variable_queries(dashboard: Mapping[str, Any]) -> list[Query]:
    out = []
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            sql = var["query"] if isinstance(var["query"], str) else var["query"]["rawSql"]
            out.append(
                Query("variable", f"{dashboard['uid']} / variable ${var['name']}", sql, "table", dict(dashboard))
            )
    return out


def alert_rules() -> list[dict[str, Any]]:
    rules = []
    for path in sorted((PROVISIONING / "alerting").glob("*.yaml")):
        for group in load_yaml(path).get("groups", []):
            rules.extend(group.get("rules", []))
    return rules


def alert_queries() -> list[Query]:
    out = []
    for rule in alert_rules():
        for item in rule["data"]:
            if item.get("datasourceUid") == "__expr__":
                continue
            model = item["model"]
            where = f"alert {rule['uid']} / {item['refId']}"
            out.append(Query("alert", where, model["rawSql"], model.get("format", "time_series"), rule=rule | {}))
    return out


def alert_range(rule: Mapping[str, Any], ref_id: str, now: datetime) -> TimeRange:
    """The range an alert query is evaluated over: relativeTimeRange seconds before `now`."""
    item = next(i for i in rule["data"] if i["refId"] == ref_id)
    span = item.get("relativeTimeRange", {"from": 600, "to": 0})
    end = now - timedelta(seconds=span["to"])
    return TimeRange.last(timedelta(seconds=span["from"] - span["to"]), end)


def custom_options(query: str) -> list[str]:
    """A custom variable's option values: comma-separated (``\\,`` escapes), ``text : value`` pairs."""
    values = []
    for part in re.findall(r"(?:\\,|[^,])+", query):
        text = part.replace("\\,", ",")
        pair = re.match(r"^(.+)\s:\s(.+)$", text)
        values.append(pair.group(2).strip() if pair else text.strip())
    return values


def resolve_variables(
    conn: psycopg.Connection,
    dashboard: Mapping[str, Any],
    time_range: TimeRange,
    selected: Mapping[str, list[str]] | None = None,
) -> dict[str, Variable]:
    """Every variable of the dashboard with its options; "All" unless `selected` names values."""
    variables: dict[str, Variable] = {}
    for var in dashboard.get("templating", {}).get("list", []):
        name = var["name"]
        if var["type"] == "query":
            sql = var["query"] if isinstance(var["query"], str) else var["query"]["rawSql"]
            rows = conn.execute(expand(sql, variables, time_range, DEFAULT_INTERVAL).encode()).fetchall()
            options = [str(row[0]) for row in rows if row[0] is not None]
        elif var["type"] == "custom":
            options = custom_options(var["query"])
        elif var["type"] in ("constant", "textbox"):
            options = [str(var["query"])]
        else:
            raise ValueError(f"{dashboard['uid']}: variable type {var['type']!r} is not handled")
        multi, include_all = bool(var.get("multi")), bool(var.get("includeAll"))
        current: str | list[str]
        if selected and name in selected:
            current = list(selected[name])
        elif include_all:
            current = [ALL]
        else:
            current = options[0] if options else ""
        variables[name] = Variable(name, current, options, multi, include_all, var.get("allValue") or None)
    return variables
