"""Grafana: who gets each evmon alert. The rules' SQL carries each project's owner (`team`) and tags as
labels, read AS Grafana from evmon.project_owners after a real bridge sync; the contact points and the
policy tree generated from `teams:` route each label set to its team, a project without an owner to
the default contact point. No Grafana server runs here: the tree is read back and walked with Grafana's
routing semantics (tests/grafana/policies.py).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from evmon.alerting import generate, grafana, labels
from evmon.bridge import owners
from evmon.bridge.settings import GrafanaRole
from evmon.bridge.sync import Bridge
from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_TODAY, REPO
from tests.fleet_owners import FLEET, fleet_config
from tests.grafana.checks import check_alert, fires, run
from tests.grafana.compose import container_to_repo, env_example, service
from tests.grafana.conftest import CREDIT, TAXI
from tests.grafana.grafana_sql import expand
from tests.grafana.policies import matches, receivers_for
from tests.grafana.provisioned import Query, alert_range
from tests.postgres import throwaway_database

pytestmark = pytest.mark.xdist_group("grafana_data")  # shares the session's demo workspace


def rules_for(config: EvmonConfig) -> list[dict[str, Any]]:
    """The shipped Grafana rules with their label lines as `evmon alerting` writes them for `config`."""
    text = generate.expected(config, REPO)[generate.GRAFANA_RULES]
    return [rule for group in yaml.safe_load(text)["groups"] for rule in group["rules"]]


def test_the_policy_tree_sends_each_projects_alerts_to_its_owner(tmp_path: Path) -> None:
    config = fleet_config(tmp_path)
    document = yaml.safe_load(generate.expected(config, REPO)[generate.NOTIFICATIONS])
    points = {point["name"]: point for point in document["contactPoints"]}
    assert set(points) == {"evmon-webhook", "evmon-team-risk", "evmon-team-mobility", "evmon-team-platform"}
    # each team's destinations, each a ${VAR} Grafana fills from its environment
    settings = {p: [(r["type"], r["settings"]) for r in points[p]["receivers"]] for p in points}
    assert settings["evmon-team-risk"] == [
        ("webhook", {"url": "${RISK_WEBHOOK_URL}", "httpMethod": "POST"}),
        ("email", {"addresses": "${RISK_EMAIL}", "singleEmail": True}),
    ]
    assert settings["evmon-team-mobility"] == [("slack", {"url": "${MOBILITY_SLACK_URL}"})]
    assert settings["evmon-webhook"] == [("webhook", {"url": "${EVMON_ALERT_WEBHOOK_URL}", "httpMethod": "POST"})]
    [tree] = document["policies"]

    expected = {CREDIT: "evmon-team-risk", "fraud": "evmon-team-risk", TAXI: "evmon-team-mobility"}
    expected |= {"churn": "evmon-team-platform", "orphan": "evmon-webhook"}
    tags = labels.tag_names(config)
    assert tags == ["domain", "tier"]
    for rule in rules_for(config):
        for project, (owner, tagged) in FLEET.items():
            # the labels the rule's query gives (owner and every tag name, '' when unset) and Grafana's own
            alert = {"project": project, "team": owner or "", **{t: tagged.get(t, "") for t in tags}}
            alert |= {**rule.get("labels", {}), "alertname": rule["title"], "grafana_folder": "evmon"}
            assert receivers_for(tree, alert) == [expected[project]], (rule["uid"], project)
    # what the walk relies on: a team label that names no team, and an alert of another folder, take the default
    assert receivers_for(tree, {"team": "nobody", "grafana_folder": "evmon", "project": "x"}) == ["evmon-webhook"]
    assert receivers_for(tree, {"team": "risk", "grafana_folder": "other"}) == ["evmon-webhook"]


def test_the_matcher_follows_continue_and_the_default_route() -> None:
    tree = {
        "receiver": "default",
        "routes": [
            {"receiver": "a", "object_matchers": [["team", "=~", "ri.*"]], "continue": True},
            {"receiver": "b", "object_matchers": [["tier", "=", "critical"]]},
            {"receiver": "c", "object_matchers": [["tier", "!=", ""]]},
        ],
    }
    assert receivers_for(tree, {"team": "risk", "tier": "critical"}) == ["a", "b"]
    assert receivers_for(tree, {"team": "risk", "tier": "low"}) == ["a", "c"]
    assert receivers_for(tree, {"team": "mobility", "tier": ""}) == ["default"]
    assert not matches(["team", "=~", "ri"], {"team": "risk"})  # anchored, as Alertmanager's


@pytest.fixture(scope="module")
def owned_db(
    pg_server: str, grafana_workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[psycopg.Connection, EvmonConfig]]:
    """The demo workspace bridged with the fleet's owners written from projects.yaml; AS Grafana."""
    folder = tmp_path_factory.mktemp("owned")
    config = fleet_config(folder)
    shutil.copytree(grafana_workspace, folder / "workspace")
    role = GrafanaRole(f"evmon_grafana_o{uuid.uuid4().hex[:10]}", "owned")
    with throwaway_database(pg_server, "evmon_owned_", drop_role=role.name) as dsn:
        bridge = Bridge(
            FilesWorkspace(folder / "workspace"), dsn, settle_s=0.0, role=role, owners=owners.from_config_file(config)
        )
        assert bridge.sync_once().failed == []
        bridge.close()
        conninfo = psycopg.conninfo.make_conninfo(dsn, user=role.name, password=role.password)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            yield conn, config


def test_every_rules_instances_carry_the_owner_and_reach_its_team(
    owned_db: tuple[psycopg.Connection, EvmonConfig],
) -> None:
    """Every rule run AS Grafana on the bridged demo (credit_scorecard owned by risk, taxi_duration by
    mobility): each instance's labels are its project's owner and tags, and each routes to the owner's
    contact point (whether it fires or not, its labels are the ones it would fire with)."""
    conn, config = owned_db
    [tree] = yaml.safe_load(grafana.render(config.teams))["policies"]
    at_demo_end = datetime.combine(DEMO_TODAY, datetime.min.time(), UTC) + timedelta(hours=12)
    routed: dict[str, set[str]] = {}
    fired: set[tuple[str, str]] = set()
    for rule in rules_for(config):
        item = next(i for i in rule["data"] if i["refId"] == "A")
        query = Query("alert", f"alert {rule['uid']}", item["model"]["rawSql"], "table", rule=rule)
        now = datetime.now(UTC) if rule["uid"] in ("evmon-stale-snapshots", "evmon-failed-run") else at_demo_end
        instances = check_alert(query, run(conn, expand(query.sql, {}, alert_range(rule, "A", now))))
        for found, value in instances:
            owner, tagged = FLEET[found["project"]]
            assert found["team"] == (owner or ""), (rule["uid"], found)
            assert (found["tier"], found["domain"]) == (tagged.get("tier", ""), tagged.get("domain", "")), found
            alert = {**found, "alertname": rule["title"], "grafana_folder": "evmon", **rule.get("labels", {})}
            [point] = receivers_for(tree, alert)
            routed.setdefault(found["project"], set()).add(point)
            if fires(rule, value):
                fired.add((rule["uid"], point))
    assert routed == {CREDIT: {"evmon-team-risk"}, TAXI: {"evmon-team-mobility"}}
    # the demo's credit project fires on its last days (a failed run, equalized odds): to team risk
    assert {("evmon-failed-run", "evmon-team-risk"), ("evmon-equalized-odds", "evmon-team-risk")} <= fired, fired


def run_start_script(tmp_path: Path, config: EvmonConfig, env: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The generated grafana-start.sh run by a real sh on the generated provisioning, Grafana's /run.sh a stub
    that records its GF_PATHS_PROVISIONING: the script's stderr and the notifications Grafana would read."""
    source = tmp_path / "provisioning"
    shutil.copytree(REPO / "grafana" / "provisioning", source)
    (source / "alerting" / "notifications.yaml").write_text(grafana.render(config.teams))
    script = tmp_path / "grafana-start.sh"
    script.write_text(grafana.render_script(config.teams))
    stub = tmp_path / "run.sh"
    stub.write_text('#!/bin/sh\nprintf "%s" "$GF_PATHS_PROVISIONING" > "$(dirname "$0")/provisioning-path"\n')
    stub.chmod(0o755)
    environment = {"PATH": "/usr/bin:/bin", "EVMON_GRAFANA_RUN": str(stub), **env}
    environment |= {
        "EVMON_GRAFANA_PROVISIONING": str(source),
        "EVMON_GRAFANA_PROVISIONING_COPY": str(tmp_path / "copy"),
    }
    done = subprocess.run(["/bin/sh", str(script)], env=environment, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    used = Path((tmp_path / "provisioning-path").read_text())
    assert sorted(p.name for p in used.iterdir()) == sorted(p.name for p in source.iterdir())
    return done.stderr, yaml.safe_load((used / "alerting" / "notifications.yaml").read_text())


def test_an_unset_destination_leaves_grafana_starting_and_its_alerts_at_the_default(tmp_path: Path) -> None:
    """PLATFORM_WEBHOOK_URL unset (platform's only destination) and RISK_EMAIL unset (one of risk's two):
    Grafana gets no empty ${VAR} (it would not start), one line names each, churn's alerts (team platform)
    reach the default contact point, risk's its webhook."""
    config = fleet_config(tmp_path)
    env = {"EVMON_ALERT_WEBHOOK_URL": "https://hooks.example/default", "RISK_WEBHOOK_URL": "https://hooks.example/r"}
    env |= {"MOBILITY_SLACK_URL": "https://hooks.slack.example/m"}
    stderr, document = run_start_script(tmp_path, config, env)
    assert stderr.splitlines() == [
        "evmon: team platform: not set: PLATFORM_WEBHOOK_URL; its alerts go to the default receiver "
        "(EVMON_ALERT_WEBHOOK_URL)",
        "evmon: team risk: not set: RISK_EMAIL; its alerts go to its other destinations",
    ]
    points = {p["name"]: [r["type"] for r in p["receivers"]] for p in document["contactPoints"]}
    assert points == {"evmon-webhook": ["webhook"], "evmon-team-mobility": ["slack"], "evmon-team-risk": ["webhook"]}
    used = {v for p in document["contactPoints"] for r in p["receivers"] for v in re.findall(r"\$\{(\w+)\}", str(r))}
    assert used <= set(env), "every ${VAR} left is set: no empty URL"
    [tree] = document["policies"]
    for project, (owner, _) in FLEET.items():
        alert = {"project": project, "team": owner or "", "grafana_folder": "evmon", "alertname": "x"}
        expected = "evmon-webhook" if owner in (None, "platform") else f"evmon-team-{owner}"
        assert receivers_for(tree, alert) == [expected], project
    # everything set: the copy is the generated file, and no line
    stderr, document = run_start_script(
        tmp_path / "all", config, env | {"RISK_EMAIL": "risk@example.org", "PLATFORM_WEBHOOK_URL": "https://p.example"}
    )
    assert stderr == "" and document == yaml.safe_load(grafana.render(config.teams))


def test_compose_starts_grafana_through_the_generated_script() -> None:
    """docker-compose.yml's grafana runs grafana/grafana-start.sh (mounted from the repository) and passes it
    every destination variable of projects.yaml's teams, optional (unset: taken out, the default route)."""
    spec = service("grafana")
    assert spec["entrypoint"][0] == "/bin/sh"
    assert container_to_repo("grafana", spec["entrypoint"][1]) == REPO / generate.GRAFANA_SCRIPT
    teams = load_config(REPO / "projects.yaml").teams
    for team in teams.values():
        for variable in team.destinations().values():
            assert spec["environment"][variable] == f"${{{variable}:-}}", variable
            assert variable in env_example(), variable
