"""The provisioning files and dashboards, checked structurally (no Grafana server can run here).

The SQL dashboards' queries are executed on bridged data by test_queries.py; the Prometheus
dashboard's PromQL here (its series exist, promtool parses it) and by a real Prometheus in
tests/prometheus/test_dashboard_queries.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from evmon.bridge.settings import GRAFANA_PASSWORD_ENV, GRAFANA_ROLE_ENV
from tests.grafana.compose import compose, container_to_repo, service, service_env
from tests.grafana.promql import (
    GRAFANA_VARIABLES,
    counters,
    interpolate,
    known_series,
    legend_labels,
    result_labels,
    selectors,
)
from tests.grafana.provisioned import (
    DASHBOARDS,
    PROMETHEUS_TYPE,
    PROVISIONING,
    PromQuery,
    Query,
    alert_queries,
    alert_rules,
    all_panels,
    load_all_dashboards,
    load_dashboards,
    load_prometheus_dashboards,
    load_yaml,
    panel_queries,
    promql_queries,
    variable_queries,
)
from tests.prometheus.tools import RULES_DIR, needs_promtool, promtool

POSTGRES_TYPES = {"grafana-postgresql-datasource", "postgres"}
SNAPSHOT_DATA = re.compile(
    r"evmon\.(metric_values|snapshots|dataset_drift|column_drift|data_quality|dataset_summary|quality_values"
    r"|model_quality|segment_quality)\b"
)
ALL_KINDS_ON_PURPOSE = {"Bridge lag: snapshot written → ingested"}  # the bridge's lag covers every snapshot
NO_PROJECT_FILTER = {
    "Bridge: last change synced",  # a property of the bridge, not of a project
    "Fleet: the most trouble first",  # every project, by $owner and $tag
}


def datasources() -> list[dict[str, Any]]:
    out = []
    for path in sorted((PROVISIONING / "datasources").glob("*.yaml")):
        doc = load_yaml(path)
        assert doc["apiVersion"] == 1, path
        out.extend(dict(source) for source in doc["datasources"])
    return out


def datasource(types: set[str] = POSTGRES_TYPES) -> dict[str, Any]:
    """The one provisioned datasource of these types (the bridge's Postgres by default)."""
    [source] = [s for s in datasources() if s["type"] in types]
    return source


DS_UID = datasource()["uid"]
PROM_UID = datasource({PROMETHEUS_TYPE})["uid"]
PROMETHEUS_YML = RULES_DIR / "prometheus.yml"
ALLOWED_PROM_VARIABLES = GRAFANA_VARIABLES | {"project"}


def every_query() -> list[Query]:
    out = [q for d in load_dashboards() for q in (*panel_queries(d), *variable_queries(d))]
    return out + alert_queries()


def every_promql() -> list[PromQuery]:
    return [q for d in load_prometheus_dashboards() for q in promql_queries(d)]


def scrape_config() -> dict[str, Any]:
    return dict(yaml.safe_load(PROMETHEUS_YML.read_text()))


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)([smh])", duration)
    assert match, duration
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2)]


def test_every_provisioning_file_parses() -> None:
    files = sorted(PROVISIONING.rglob("*"))
    assert {p.parent.name for p in files if p.is_file()} == {"datasources", "dashboards", "alerting"}
    for path in files:
        if path.is_file():
            assert path.suffix == ".yaml", f"{path}: Grafana reads .yaml/.yml/.json provisioning files"
            assert load_yaml(path)["apiVersion"] == 1, path


def test_the_datasources_are_postgres_and_prometheus_with_postgres_the_default() -> None:
    sources = datasources()
    assert sorted(s["type"] for s in sources) == sorted(["grafana-postgresql-datasource", PROMETHEUS_TYPE])
    assert [s["uid"] for s in sources if s.get("isDefault")] == [DS_UID], "one default: the SQL dashboards' Postgres"
    assert len({s["uid"] for s in sources}) == len({s["name"] for s in sources}) == len(sources)


def test_the_prometheus_datasource_is_the_compose_prometheus() -> None:
    """url: the compose service on the port its healthcheck asks; timeInterval: the scrape interval
    ($__rate_interval is computed from it); a pinned literal uid, which the dashboard refers to."""
    source = datasource({PROMETHEUS_TYPE})
    assert source["uid"] == "evmon-prometheus" and source["access"] == "proxy" and source["editable"] is False
    match = re.fullmatch(r"http://([a-z-]+):(\d+)", source["url"])
    assert match, source["url"]
    host, port = match.groups()
    assert host in compose()["services"], f"{host}: no such compose service"
    assert f"127.0.0.1:{port}/-/ready" in " ".join(service(host)["healthcheck"]["test"]), "its port"
    assert source["jsonData"]["timeInterval"] == scrape_config()["global"]["scrape_interval"]


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
        "data_quality.json", "explanations.json", "fairness.json", "feature_drift.json", "model_quality.json",
        "online.json", "outliers.json", "overview.json", "service_health.json", "service_prometheus.json",
    ]  # fmt: skip
    home = container_to_repo("grafana", service_env("grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home is not None and home.is_file()


def test_dashboards_are_well_formed() -> None:
    dashboards = load_all_dashboards()
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
    """A dashboard reads one datasource: the SQL ones the bridge's Postgres, the Prometheus one Prometheus."""
    sql, prom = load_dashboards(), load_prometheus_dashboards()
    assert [d["uid"] for d in prom] == ["evmon-online", "evmon-service-prometheus"] and len(sql) == 8
    for dash, uid, types in [
        *((d, DS_UID, POSTGRES_TYPES) for d in sql),
        *((d, PROM_UID, {PROMETHEUS_TYPE}) for d in prom),
    ]:
        refs = [r for r in _datasource_refs(dash) if r != {"type": "grafana", "uid": "-- Grafana --"}]
        assert refs, dash["uid"]
        for ref in refs:
            assert isinstance(ref, dict) and ref.get("uid") == uid and ref.get("type") in types, (
                f"{dash['uid']}: datasource {ref!r}"
            )


def test_every_dashboard_has_a_multi_select_project_variable_from_sql() -> None:
    for dash in load_dashboards():
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        project = variables["project"]
        assert project["type"] == "query" and project["multi"] and project["includeAll"], dash["uid"]
        assert project["datasource"]["uid"] == DS_UID and "evmon.projects" in project["query"]
        assert dash["templating"]["list"][0]["name"] == "project", "project first: others depend on it"


def test_the_prometheus_dashboard_has_a_multi_select_project_variable_from_evmons_jobs() -> None:
    """label_values over the evmon scrape jobs of prometheus.yml; "All" is `.*`, so the panels' regex
    matchers match every project, even while the variable has no options yet (no scrape so far)."""
    jobs = [job["job_name"] for job in scrape_config()["scrape_configs"] if job["job_name"] != "model"]
    for dash in load_prometheus_dashboards():
        [project] = [v for v in dash["templating"]["list"] if v["name"] == "project"]
        assert project["type"] == "query" and project["multi"] and project["includeAll"], dash["uid"]
        assert project["datasource"] == {"type": PROMETHEUS_TYPE, "uid": PROM_UID}
        assert project["allValue"] == ".*"
        if dash["uid"] == "evmon-online":  # the model services' metrics: the project is their `model` label
            assert project["query"] == "label_values(evmon_online_rows_total, model)"
            continue
        match = re.fullmatch(r'label_values\(\{job=~"([^"]+)"\}, project\)', project["query"])
        assert match, project["query"]
        assert all(re.fullmatch(match.group(1), job) for job in jobs), (match.group(1), jobs)
        assert dash["title"].endswith("Service (Prometheus)") and PROMETHEUS_TYPE in dash["tags"]


@pytest.mark.parametrize("query", every_promql(), ids=lambda q: q.where)
def test_promql_conventions(query: PromQuery) -> None:
    """Every series a panel selects exists (the metric table of docs/grafana-prometheus.md: what the exporters
    produce, or a recording rule of prometheus/rules/evmon.yml), projects are filtered by $project, counters are
    read with rate/increase only, and the legend names labels the result keeps."""
    expr, known = query.expr, known_series()
    variables = set(re.findall(r"\$\{?(\w+)", expr))
    assert variables <= ALLOWED_PROM_VARIABLES, f"{query.where}: unknown variables {variables - ALLOWED_PROM_VARIABLES}"
    found = [s for s in selectors(expr) if s.name]
    assert found, query.where
    for selector in found:
        assert selector.name in known, f"{query.where}: {selector.name} is neither exported nor a recording rule"
        if "project" in known[selector.name]:
            assert selector.matchers.get("project") == ("=~", "$project"), f"{query.where}: filter on $project"
    for function, argument in re.findall(r"\b(rate|increase|irate)\(\s*([a-zA-Z_:][\w:]*)", expr):
        assert argument in counters(), f"{query.where}: {function}() of {argument}, not a counter"
    for name in set(known) - counters():
        assert not re.search(rf"\b(rate|increase|irate)\(\s*{re.escape(name)}\b", expr), query.where
    kept = result_labels(expr, known)
    assert legend_labels(query.legend) <= kept, f"{query.where}: legend {query.legend!r}, result labels {set(kept)}"
    # one value per series for the stat-like panels, a time range for the graphs
    assert query.instant == (query.panel["type"] in ("stat", "bargauge", "gauge")), query.where


@needs_promtool
def test_every_promql_expression_parses(tmp_path: Path) -> None:
    """promtool parses each expression (as Grafana sends it, variables replaced) as a recording rule;
    and refuses a broken one, so the check can fail."""
    scrape_s = _seconds(scrape_config()["global"]["scrape_interval"])
    queries = every_promql()
    exprs = [interpolate(q.expr, None, ".*", scrape_s) for q in queries]
    exprs += [interpolate(q.expr, ["credit_scorecard", "taxi_duration"], ".*", scrape_s) for q in queries]
    rules = [{"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(exprs)]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = promtool("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout
    broken = [{"record": "dashboard:broken", "expr": exprs[0] + ")"}]  # one parenthesis too many
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": broken}]}))
    assert promtool("check", "rules", str(path)).returncode == 1


@pytest.mark.parametrize("query", every_query(), ids=lambda q: q.where)
def test_query_conventions(query: Query) -> None:
    sql = query.sql
    assert "--" not in sql and "/*" not in sql, f"{query.where}: no SQL comments (some Grafana versions strip them)"
    assert query.format in ("time_series", "table"), query.where
    if query.kind == "panel":
        assert "$project" in sql or query.title in NO_PROJECT_FILTER, f"{query.where}: filter on $project"
    # multi-value variables: `IN ($v)` is `IN ()` while $v has no options (test_provisioning_review.py)
    for name in re.findall(r"\$\{?(project|column|segment)\b", sql):
        assert f"= ANY(ARRAY[${name}]::text[])" in sql, f"{query.where}: write = ANY(ARRAY[${name}]::text[])"
    assert not re.search(r"IN \(\$", sql), f"{query.where}: no IN ($variable)"
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


_ISSUE_25 = ("evmon-fairness", "evmon-outliers")


def test_the_issue_asks_for_these_alerts_and_panels() -> None:
    titles = {r["uid"]: r["title"] for r in alert_rules()}
    assert set(titles) == {
        "evmon-dataset-drift",
        "evmon-empty-columns",
        "evmon-model-quality",
        "evmon-estimated-quality",
        "evmon-disparate-impact",
        "evmon-equalized-odds",
        "evmon-outlier-column-share",
        "evmon-outlier-multivariate-share",
        "evmon-attribution-drift",
        "evmon-stale-snapshots",
        "evmon-failed-run",
    }
    overview = next(d for d in load_dashboards() if d["uid"] == "evmon-overview")
    panels = {p["title"] for p in all_panels(overview)}
    assert {"Prediction drift", "Drifted columns", "Missing values share"} <= panels  # the seed's three
    titles_of = {d["uid"]: {p["title"] for p in all_panels(d)} for d in load_dashboards()}
    fairness, outliers = (titles_of[uid] for uid in _ISSUE_25)
    assert {"Disparate impact per sensitive column", "Equalized odds difference per sensitive column"} <= fairness
    assert {"Selection rate per group", "Estimated quality gap per sensitive column"} <= fairness
    assert {"Outlier share per column", "Top columns by outlier share (newest day)"} <= outliers
    assert {"Multivariate outlier share", "Model quality on outlier rows vs the others"} <= outliers
    assert titles_of["evmon-explanations"] == {  # issue 26
        "Attribution drift: nDCG against the reference's ranking",
        "Top columns by share of attribution (newest day)",
        "Share of attribution per column",
        "Columns that moved most on the days quality fell",
    }
    assert compose()["services"]["grafana"]["volumes"], "grafana mounts the provisioning"


def test_provisioned_paths_exist_in_the_repo() -> None:
    assert container_to_repo("grafana", "/etc/grafana/provisioning") == PROVISIONING
    assert Path(PROVISIONING / "alerting" / "evmon.yaml").is_file()
