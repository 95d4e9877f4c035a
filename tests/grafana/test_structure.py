"""The provisioning files and dashboards, checked structurally (no Grafana server can run here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from evmon.bridge.settings import GRAFANA_PASSWORD_ENV, GRAFANA_ROLE_ENV
from tests.grafana.compose import compose, container_to_repo, service_env
from tests.grafana.provisioned import (
    DASHBOARDS,
    PROVISIONING,
    Query,
    alert_queries,
    alert_rules,
    all_panels,
    load_dashboards,
    load_yaml,
    panel_queries,
    variable_queries,
)

POSTGRES_TYPES = {"grafana-postgresql-datasource", "postgres"}
SNAPSHOT_DATA = re.compile(
    r"evmon\.(metric_values|snapshots|dataset_drift|column_drift|data_quality|dataset_summary|quality_values"
    r"|model_quality|segment_quality)\b"
)
ALL_KINDS_ON_PURPOSE = {"Bridge lag: snapshot written → ingested"}  # the bridge's lag covers every snapshot
NO_PROJECT_FILTER = {"Bridge: last change synced"}  # a property of the bridge, not of a project


def datasource() -> dict[str, Any]:
    files = sorted((PROVISIONING / "datasources").glob("*.yaml"))
    assert len(files) == 1, files
    doc = load_yaml(files[0])
    assert doc["apiVersion"] == 1
    [source] = doc["datasources"]
    return dict(source)


DS_UID = datasource()["uid"]


def every_query() -> list[Query]:
    out = [q for d in load_dashboards() for q in (*panel_queries(d), *variable_queries(d))]
    return out + alert_queries()


def test_every_provisioning_file_parses() -> None:
    files = sorted(PROVISIONING.rglob("*"))
    assert {p.parent.name for p in files if p.is_file()} == {"datasources", "dashboards", "alerting"}
    for path in files:
        if path.is_file():
            assert path.suffix == ".yaml", f"{path}: Grafana reads .yaml/.yml/.json provisioning files"
            assert load_yaml(path)["apiVersion"] == 1, path


def test_the_datasource_is_the_bridges_select_only_role() -> None:
    source = datasource()
    assert source["type"] in POSTGRES_TYPES
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", source["uid"]), "pin a literal uid: dashboards refer to it"
    assert source["user"] == f"${{{GRAFANA_ROLE_ENV}}}"
    assert source["secureJsonData"]["password"] == f"${{{GRAFANA_PASSWORD_ENV}}}"
    assert source["jsonData"]["database"] == source["database"]
    # every ${VAR} it uses is set in the grafana service's environment, the role as the bridge gets it
    used = set(re.findall(r"\$\{(\w+)\}", " ".join(_strings(source))))
    grafana, bridge = service_env("grafana"), service_env("bridge")
    assert used <= set(grafana), used - set(grafana)
    for name in (GRAFANA_ROLE_ENV, GRAFANA_PASSWORD_ENV):
        assert grafana[name] == bridge[name], name


def test_the_dashboard_provider_reads_the_repos_dashboards() -> None:
    [provider] = load_yaml(PROVISIONING / "dashboards" / "evmon.yaml")["providers"]
    assert provider["type"] == "file" and provider["disableDeletion"] is True
    folder = container_to_repo("grafana", provider["options"]["path"])
    assert folder == DASHBOARDS
    assert sorted(p.name for p in folder.glob("*.json")) == [
        "data_quality.json", "feature_drift.json", "model_quality.json", "overview.json", "service_health.json",
    ]  # fmt: skip
    home = container_to_repo("grafana", service_env("grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home is not None and home.is_file()


def test_dashboards_are_well_formed() -> None:
    dashboards = load_dashboards()
    uids = [d["uid"] for d in dashboards]
    assert len(set(uids)) == len(uids), uids
    assert len({d["title"] for d in dashboards}) == len(dashboards)
    for dash in dashboards:
        uid = dash["uid"]
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", uid) and dash.get("id") is None, uid
        assert isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36, uid
        assert dash["description"] and "evmon" in dash["tags"], uid
        panels = list(all_panels(dash))
        ids = [p["id"] for p in panels]
        assert len(set(ids)) == len(ids), f"{uid}: duplicate panel ids {ids}"
        _no_overlap(uid, panels)
        for panel in panels:
            where = f"{uid} / {panel.get('title')!r}"
            assert panel["title"] and panel.get("description"), f"{where}: title and description"
            if panel["type"] in ("timeseries", "stat", "bargauge"):
                assert panel["fieldConfig"]["defaults"].get("unit"), f"{where}: no unit"
            if panel["type"] == "table":
                assert panel["fieldConfig"]["overrides"], f"{where}: name and unit its columns"


def _no_overlap(uid: str, panels: list[dict[str, Any]]) -> None:
    cells: dict[tuple[int, int], Any] = {}
    for panel in panels:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24, f"{uid} / {panel['title']}: wider than the grid"
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{uid}: {panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


def _datasource_refs(node: Any) -> list[Any]:
    refs = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                refs.append(value)
            refs.extend(_datasource_refs(value))
    elif isinstance(node, list):
        for value in node:
            refs.extend(_datasource_refs(value))
    return refs


def test_dashboards_use_only_the_provisioned_datasource() -> None:
    for dash in load_dashboards():
        refs = [r for r in _datasource_refs(dash) if r != {"type": "grafana", "uid": "-- Grafana --"}]
        assert refs, dash["uid"]
        for ref in refs:
            assert isinstance(ref, dict) and ref.get("uid") == DS_UID and ref.get("type") in POSTGRES_TYPES, (
                f"{dash['uid']}: datasource {ref!r}"
            )


def test_every_dashboard_has_a_multi_select_project_variable_from_sql() -> None:
    for dash in load_dashboards():
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        project = variables["project"]
        assert project["type"] == "query" and project["multi"] and project["includeAll"], dash["uid"]
        assert project["datasource"]["uid"] == DS_UID and "evmon.projects" in project["query"]
        assert dash["templating"]["list"][0]["name"] == "project", "project first: others depend on it"


@pytest.mark.parametrize("query", every_query(), ids=lambda q: q.where)
def test_query_conventions(query: Query) -> None:
    sql = query.sql
    assert "--" not in sql and "/*" not in sql, f"{query.where}: no SQL comments (some Grafana versions strip them)"
    assert query.format in ("time_series", "table"), query.where
    if query.kind == "panel":
        assert "$project" in sql or query.title in NO_PROJECT_FILTER, f"{query.where}: filter on $project"
        if "$project" in sql:
            assert "IN ($project)" in sql, f"{query.where}: $project is multi-value: use IN ($project)"
    if SNAPSHOT_DATA.search(sql) and query.title not in ALL_KINDS_ON_PURPOSE:
        assert "kind = 'daily'" in sql, f"{query.where}: daily snapshots only (what-if results have kind 'whatif')"


def test_alert_rules_are_well_formed() -> None:
    rules = alert_rules()
    assert len({r["uid"] for r in rules}) == len(rules)
    dashboards = {d["uid"]: {p["id"] for p in all_panels(d)} for d in load_dashboards()}
    for rule in rules:
        refs = {item["refId"] for item in rule["data"]}
        assert rule["condition"] in refs, rule["uid"]
        assert rule["noDataState"] in ("OK", "NoData", "Alerting", "KeepLast")
        assert rule["execErrState"] in ("OK", "Error", "Alerting", "KeepLast")
        assert rule["annotations"]["summary"] and rule["labels"]["severity"]
        assert rule["panelId"] in dashboards[rule["dashboardUid"]], rule["uid"]
        for item in rule["data"]:
            if item["datasourceUid"] == "__expr__":
                assert item["model"]["expression"] in refs - {item["refId"]}, rule["uid"]
            else:
                assert item["datasourceUid"] == DS_UID and item["model"]["datasource"]["uid"] == DS_UID
                assert item["model"]["format"] == "table", f"{rule['uid']}: numeric data needs table format"
                assert item["relativeTimeRange"]["from"] > item["relativeTimeRange"]["to"] >= 0


def test_the_issue_asks_for_these_alerts_and_panels() -> None:
    titles = {r["uid"]: r["title"] for r in alert_rules()}
    assert set(titles) == {"evmon-dataset-drift", "evmon-model-quality", "evmon-stale-snapshots", "evmon-failed-run"}
    overview = next(d for d in load_dashboards() if d["uid"] == "evmon-overview")
    panels = {p["title"] for p in all_panels(overview)}
    assert {"Prediction drift", "Drifted columns", "Missing values share"} <= panels  # the seed's three
    assert compose()["services"]["grafana"]["volumes"], "grafana mounts the provisioning"


def test_provisioned_paths_exist_in_the_repo() -> None:
    assert container_to_repo("grafana", "/etc/grafana/provisioning") == PROVISIONING
    assert Path(PROVISIONING / "alerting" / "evmon.yaml").is_file()
