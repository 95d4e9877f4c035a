"""What a review of the provisioning against Grafana's own source found (issue 18, part 5), checked.

No Grafana server runs here (/work/shared/notes/grafana-postgres.md), so each check reproduces the
part of Grafana (11.6, docker-compose.yml's image) it relies on, with the source it follows:

1. One folder for rules and dashboards. Grafana provisions alerting before dashboards
   (pkg/services/provisioning/provisioning.go: RunInitProvisioners = datasources, plugins, alerting;
   Run() then ProvisionDashboards). A rule group names its folder by title only (provisioning/
   alerting/rules_types.go, AlertRuleGroupV1 has `folder`, no uid key; grafana/grafana#125079): its
   provisioner looks the title up and creates a folder with util.GenerateShortUID() when absent
   (rules_provisioner.go, getOrCreateFolderUID / getOrCreateFolderFullpath). The dashboard provider
   looks its folder up by `folderUid` when set, else by title, and creates it with that uid when
   absent (provisioning/dashboards/file_reader.go, getOrCreateFolder).
2. Panels before the bridge's first sync. A query variable without options and with "All" holds
   "All" (@grafana/scenes MultiValueVariable.updateValueGivenNewOptions); "All" without a custom
   all value is every option, here none (MultiValueVariable.getValue), which the SQL data sources
   join into '' (SqlDatasource.interpolateVariable): `IN ($project)` became `IN ()`, a syntax error.
   A custom all value cannot help: scenes re-interpolates it with the glob format
   (sceneInterpolator.formatValue, CustomAllValue), so it cannot carry `$project`; and one without
   variables (a subquery of every project) changes the plans (measured: 0.6x to 10x a panel's time).
   So the panels write `= ANY(ARRAY[$project]::text[])`: the same list, rows and plans (Postgres
   parses `x IN (list)` as `x = ANY(ARRAY[list])`), and `ARRAY[]::text[]` is valid SQL.
3. Where alerts go. Provisioning files are interpolated with os.ExpandEnv after splitting on `$$`
   (provisioning/values/values.go, interpolateValue); contact point settings take the interpolated
   value (alerting/contact_point_types.go, since grafana/grafana#55666) and a webhook without a url
   is refused ("required field 'url' is not specified", grafana/alerting receivers/webhook), which
   stops Grafana's start. Alerts are routed like Alertmanager's routing tree (first matching child,
   else the node), on the rule's labels, the query's string columns, `alertname` (the rule's title)
   and `grafana_folder` (its folder's title, ngmodels.FolderTitleLabel).
4. Unique labels. An evaluation with two results of the same labels puts the rule in Error
   (pkg/services/ngalert/eval/eval.go: "frame cannot uniquely be identified by its labels: has
   duplicate results with labels ...").
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from evmon.bridge.settings import GrafanaRole
from evmon.config.loader import load_config
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import METADATA, FilesWorkspace
from tests.conftest import DEMO_END, DEMO_TODAY, REPO
from tests.grafana.checks import check_alert, run
from tests.grafana.compose import env_example, service, service_env
from tests.grafana.conftest import CREDIT, ESTIMATING, TAXI
from tests.grafana.grafana_sql import TimeRange, day_start, expand
from tests.grafana.provisioned import (
    PROVISIONING,
    Query,
    alert_queries,
    alert_range,
    load_dashboards,
    load_yaml,
    panel_queries,
    resolve_variables,
)
from tests.grafana.test_fairness_outlier_alerts import RULES as FAIRNESS_OUTLIER_RULES
from tests.grafana.test_queries import check_panel
from tests.postgres import throwaway_database

pytestmark = pytest.mark.xdist_group("grafana_data")  # shares the session's demo workspace

ALERTING = sorted((PROVISIONING / "alerting").glob("*.yaml"))
WEBHOOK_ENV = "EVMON_ALERT_WEBHOOK_URL"
MULTI = re.compile(r"\$(project|column|segment)\b")


def _providers() -> list[dict[str, Any]]:
    return list(load_yaml(PROVISIONING / "dashboards" / "evmon.yaml")["providers"])


def _groups() -> list[dict[str, Any]]:
    return [group for path in ALERTING for group in load_yaml(path).get("groups", [])]


# ---- 1. one folder -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Folder:
    uid: str
    title: str


def provision_folders(groups: list[dict[str, Any]], providers: list[dict[str, Any]]) -> dict[str, Folder]:
    """Grafana's two folder look-ups, in its order: where each rule group and each provider lands."""
    folders: list[Folder] = []
    landed: dict[str, Folder] = {}
    for group in groups:  # alerting first: by title; created with a random uid
        title = group["folder"]
        found = next((f for f in folders if f.title == title), None) or Folder(uuid.uuid4().hex[:14], title)
        folders += [] if found in folders else [found]
        landed[f"rule group {group['name']}"] = found
    for provider in providers:  # then dashboards: by folderUid if set, else by title
        uid, title = provider.get("folderUid") or "", provider["folder"]
        found = next((f for f in folders if (f.uid == uid if uid else f.title == title)), None)
        found = found or Folder(uid or uuid.uuid4().hex[:14], title)
        folders += [] if found in folders else [found]
        landed[f"dashboards {provider['name']}"] = found
    return landed


def test_rules_and_dashboards_land_in_one_folder() -> None:
    groups, providers = _groups(), _providers()
    assert groups and providers
    for group in groups:
        assert not {"folderUid", "folderUID", "folder_uid"} & set(group), "rule groups only read `folder` (a title)"
        assert "/" not in group["folder"], "newer Grafana reads a rule group's folder as a path split on '/'"
    landed = provision_folders(groups, providers)
    assert len(set(landed.values())) == 1, landed
    # the check sees the reviewed bug: with a folderUid on the provider, Grafana makes a second `evmon`
    pinned = [{**p, "folderUid": p["folder"]} for p in providers]
    assert len(set(provision_folders(groups, pinned).values())) == 2


# ---- 2. every panel before the bridge's first sync ---------------------------------------------


@pytest.fixture(scope="module")
def empty_bridge(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[psycopg.Connection]:
    """The bridge started on a database (schema migrated, role granted) and not synced yet: AS Grafana."""
    from evmon.bridge.sync import Bridge

    role = GrafanaRole(f"evmon_grafana_e{uuid.uuid4().hex[:10]}", "empty")
    with throwaway_database(pg_server, "evmon_empty_", drop_role=role.name) as dsn:
        bridge = Bridge(FilesWorkspace(tmp_path_factory.mktemp("empty") / "workspace"), dsn, role=role)
        bridge.store()  # connects and migrates, as on start; no sync
        bridge.close()
        conninfo = psycopg.conninfo.make_conninfo(dsn, user=role.name, password=role.password)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM evmon.projects").fetchone() == (0,)
            yield conn


@pytest.mark.parametrize("dashboard", load_dashboards(), ids=lambda d: d["uid"])
def test_every_panel_runs_while_the_variables_have_no_options(
    dashboard: dict[str, Any], empty_bridge: psycopg.Connection
) -> None:
    time_range = TimeRange.last(timedelta(days=30), datetime.now(UTC))
    variables = resolve_variables(empty_bridge, dashboard, time_range)  # runs the variable queries too
    for name in ("project", "column", "segment"):
        if name in variables:
            assert variables[name].options == [] and variables[name].is_all, f"{name}: {variables[name]}"
    for query in panel_queries(dashboard):
        sql = expand(query.sql, variables, time_range, query.interval(time_range))
        if MULTI.search(query.sql):
            assert "ARRAY[]::text[]" in sql, query.where
        check_panel(query, empty_bridge, sql, non_empty=False)  # a SQL error fails here
        # the shape the review found: the same SQL with `IN ($var)` is what Grafana could not run
        old = re.sub(r" = ANY\(ARRAY\[\$(\w+)\]::text\[\]\)", r" IN ($\1)", query.sql)
        if old != query.sql:
            with pytest.raises(psycopg.errors.SyntaxError):
                run(empty_bridge, expand(old, variables, time_range, query.interval(time_range)))


def test_alert_queries_run_before_the_first_sync(empty_bridge: psycopg.Connection) -> None:
    for query in alert_queries():
        result = run(empty_bridge, expand(query.sql, {}, alert_range(query.rule, "A", datetime.now(UTC))))
        assert check_alert(query, result) == [], query.where  # no data: noDataState (OK), not an error


# ---- 3. a contact point and a policy ------------------------------------------------------------


def expand_env(value: str, env: Mapping[str, str]) -> str:
    """values.go interpolateValue: os.ExpandEnv on each part between `$$`, joined by a literal `$`."""
    pattern = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z0-9_]+)")
    return "$".join(pattern.sub(lambda m: env.get(m.group(1) or m.group(2), ""), part) for part in value.split("$$"))


def route(node: Mapping[str, Any], labels: Mapping[str, str]) -> list[Mapping[str, Any]]:
    """The routes an alert with `labels` ends at (Alertmanager's tree: first matching child unless continue)."""
    found: list[Mapping[str, Any]] = []
    for child in node.get("routes", []):
        if all(_matches(labels.get(name, ""), op, value) for name, op, value in child.get("object_matchers", [])):
            found += route({**child, "receiver": child.get("receiver") or node["receiver"]}, labels)
            if not child.get("continue"):
                break
    return found or [node]


def _matches(actual: str, op: str, value: str) -> bool:
    ops = {"=": actual == value, "!=": actual != value}
    if op in ops:
        return ops[op]
    hit = re.fullmatch(value, actual) is not None
    return hit if op == "=~" else not hit


def _notifications() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    points = [p for path in ALERTING for p in load_yaml(path).get("contactPoints", [])]
    policies = [p for path in ALERTING for p in load_yaml(path).get("policies", [])]
    return points, policies


def test_alerts_go_to_a_webhook_from_the_environment() -> None:
    points, policies = _notifications()
    by_name = {p["name"]: p for p in points}
    [receiver] = by_name["evmon-webhook"]["receivers"]
    assert receiver["type"] == "webhook" and receiver["settings"]["url"] == f"${{{WEBHOOK_ENV}}}"
    # Grafana gets the URL from its environment, which compose fills from .env, refusing to start without it
    assert service("grafana")["environment"][WEBHOOK_ENV] == f"${{{WEBHOOK_ENV}:?set {WEBHOOK_ENV} in .env}}"
    url = expand_env(receiver["settings"]["url"], service_env("grafana"))
    assert url == env_example()[WEBHOOK_ENV] and re.fullmatch(r"https?://\S+", url)
    assert expand_env(receiver["settings"]["url"], {}) == "", "unset, the url is empty: Grafana would not start"
    # the other contact points are the teams' of projects.yaml, each destination a variable of .env
    teams = load_config(REPO / "projects.yaml").teams
    assert set(by_name) == {"evmon-webhook"} | {f"evmon-team-{team}" for team in teams}
    variables = {WEBHOOK_ENV} | {env for team in teams.values() for env in team.destinations().values()}
    text = "\n".join(path.read_text() for path in ALERTING if load_yaml(path).get("contactPoints"))
    assert set(re.findall(r"\$\{?(\w+)", text)) == variables, "any other $ would be eaten by os.ExpandEnv"
    assert variables <= set(env_example())
    # every ${VAR} of the alerting files is in Grafana's environment
    for path in ALERTING:
        used = set(re.findall(r"\$\{(\w+)\}", path.read_text()))
        assert used <= set(service_env("grafana")), f"{path.name}: {used - set(service_env('grafana'))}"

    [policy] = policies
    names = {p["name"] for p in points}

    def receivers(node: Mapping[str, Any]) -> set[str]:
        return {node["receiver"]} | {r for child in node.get("routes", []) for r in receivers(child)}

    assert policy["orgId"] == 1 and receivers(policy) <= names  # the root needs one; every one must exist
    by_folder = {group["folder"] for group in _groups()}
    for group in _groups():
        for rule in group["rules"]:
            assert "team" not in rule["labels"], f"{rule['uid']}: a rule's team label would win over the owner's"
            labels = {**rule["labels"], "alertname": rule["title"], "grafana_folder": group["folder"], "project": "p"}
            [end] = route(policy, labels)  # no owner: the folder's route, the default contact point
            assert end["receiver"] == "evmon-webhook", rule["uid"]
            assert end is not policy and "project" in end["group_by"], f"{rule['uid']}: one group per project"
            assert [m[2] for m in end["object_matchers"]] == sorted(by_folder)
            for team in teams:
                [end] = route(policy, labels | {"team": team})
                assert end["receiver"] == f"evmon-team-{team}", (rule["uid"], team)


# ---- 4. one alert instance per project ----------------------------------------------------------

# the stale-snapshot query as the review found it (grouped by name and synced_at)
OLD_STALE_SQL = """SELECT p.name AS project,
       extract(epoch FROM now() - coalesce(max(to_timestamp(s.file_mtime_ns / 1e9)), p.synced_at))
         / 3600 AS hours_since_snapshot
FROM evmon.projects p
LEFT JOIN evmon.snapshots s ON s.project_id = p.project_id AND s.kind = 'daily'
GROUP BY p.name, p.synced_at"""


def _copy_snapshot(workspace: FilesWorkspace, source: Path, pid: uuid.UUID, stamp: datetime) -> None:
    """`source`'s snapshot under a new id in project `pid`, stamped `stamp` (header only)."""
    data = source.read_bytes()
    cut = data.find(b', "metric_results": ')
    head = json.loads(data[:cut] + b"}")
    head["timestamp"] = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    workspace.write_snapshot(pid, uuid.uuid4(), json.dumps(head).encode()[:-1] + data[cut:])


@pytest.fixture(scope="module")
def crowded_db(
    pg_server: str, grafana_workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[psycopg.Connection]:
    """The demo workspace, bridged; then a second daily snapshot of credit_scorecard on its last day, and a
    second project of that name (as one made in the Evidently UI) with a snapshot of that day, bridged by a
    later sync. AS Grafana."""
    from evmon.bridge.sync import Bridge

    root = tmp_path_factory.mktemp("crowded") / "workspace"
    shutil.copytree(grafana_workspace, root)
    workspace = FilesWorkspace(root)
    role = GrafanaRole(f"evmon_grafana_c{uuid.uuid4().hex[:10]}", "crowded")
    with throwaway_database(pg_server, "evmon_crowded_", drop_role=role.name) as dsn:
        bridge = Bridge(workspace, dsn, settle_s=0.0, role=role)
        assert bridge.sync_once().failed == []
        last = workspace.snapshot_path(project_id(CREDIT), daily_snapshot_id(CREDIT, DEMO_END))
        _copy_snapshot(workspace, last, project_id(CREDIT), day_start(DEMO_END) + timedelta(hours=12))
        twin = uuid.uuid4()
        (root / str(twin)).mkdir()
        (root / str(twin) / METADATA).write_text(json.dumps({"id": str(twin), "name": CREDIT, "description": ""}))
        _copy_snapshot(workspace, last, twin, day_start(DEMO_END) + timedelta(hours=6))
        result = bridge.sync_once()
        bridge.close()
        assert result.failed == [] and result.ingested == 2, result.line()
        conninfo = psycopg.conninfo.make_conninfo(dsn, user=role.name, password=role.password)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            yield conn


def test_each_alert_rule_gives_one_instance_per_project(crowded_db: psycopg.Connection) -> None:
    """Evaluated when the demo has data (the stale and failed-run rules now: the runs and files are fresh)."""
    projects = crowded_db.execute(
        "SELECT count(*), count(DISTINCT synced_at) FROM evmon.projects WHERE name = %s", (CREDIT,)
    ).fetchone()
    assert projects == (2, 2), "two projects of one name, synced at two times"
    [(same_day,)] = crowded_db.execute(
        "SELECT count(*) FROM evmon.snapshots WHERE project = %s AND kind = 'daily' AND day = %s", (CREDIT, DEMO_END)
    ).fetchall()
    assert same_day == 3, "three daily snapshots of credit_scorecard on its last day"

    at_demo_end = datetime.combine(DEMO_TODAY, datetime.min.time(), UTC) + timedelta(hours=12)
    queries: list[Query] = alert_queries()
    for query in queries:
        now = datetime.now(UTC) if query.rule["uid"] in ("evmon-stale-snapshots", "evmon-failed-run") else at_demo_end
        result = run(crowded_db, expand(query.sql, {}, alert_range(query.rule, "A", now)))
        instances = check_alert(query, result)  # asserts: no two rows with the same labels
        expected = ESTIMATING if query.rule["uid"] == "evmon-estimated-quality" else {CREDIT, TAXI}
        if query.rule["uid"] in FAIRNESS_OUTLIER_RULES:  # the demo's project that watches fairness and outliers
            expected = {CREDIT}
        assert {labels["project"] for labels, _ in instances} == expected, query.where
    # the check sees the reviewed bug: the old query gives credit_scorecard twice on this data
    rows = run(crowded_db, OLD_STALE_SQL).rows
    assert sorted(row[0] for row in rows) == [CREDIT, CREDIT, TAXI]


def test_the_old_stale_query_differs_only_in_its_grouping() -> None:
    """So the check above compares the fix with what the review found, nothing else."""
    [query] = [q for q in alert_queries() if q.rule["uid"] == "evmon-stale-snapshots"]
    new = " ".join(query.sql.split())
    # the query inside the owner join (SELECT r.*, <owner labels> FROM (...) r LEFT JOIN evmon.project_owners)
    inner = re.fullmatch(r"SELECT r\.\*, .*? FROM \( (.*) \) r LEFT JOIN evmon\.project_owners o ON .*", new)
    assert inner is not None, new
    new = inner.group(1)
    assert new.endswith("GROUP BY p.name"), "one row per project name"
    old = new.replace("max(p.synced_at)", "p.synced_at").replace("GROUP BY p.name", "GROUP BY p.name, p.synced_at")
    assert " ".join(OLD_STALE_SQL.split()) == old
