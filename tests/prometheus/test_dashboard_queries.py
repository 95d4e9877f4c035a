"""The "Service (Prometheus)" dashboard's queries, run by a real Prometheus on real series.

A running `evmon scheduler` and `evmon bridge` (real processes, --metrics-port) over a copy of the demo
workspace are scraped by a real Prometheus loading the shipped rules, under the shipped job names.
Then `evmon run` re-runs one project-day (ok) and fails another (a config naming a column the data
lacks), and every panel's PromQL, its variables replaced as Grafana replaces them ("All", then one
project), is asked of Prometheus's HTTP API: each answers, its legend's labels are on every series,
a selected project filters the per-project panels, and the numbers are the run log's, the
scheduler's clock's, Postgres's and the exporters' own.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import yaml

from evmon.processes import free_port
from evmon.storage.runlog import RunLog
from tests.conftest import DEMO_END, DEMO_TODAY, REPO, write_config
from tests.grafana.promql import interpolate, legend_labels, selectors
from tests.grafana.provisioned import PromQuery, load_prometheus_dashboards, promql_queries
from tests.prometheus import test_scrape
from tests.prometheus.conftest import CREDIT, TAXI, copy_workspace
from tests.prometheus.test_scrape import Service
from tests.prometheus.tools import RULES_DIR, PrometheusServer, needs_prometheus, prometheus_server, samples, scrape

service = test_scrape.service  # the fixture: `evmon` processes, stopped at the end of the test
SCRAPE_S = 1  # the test server's scrape interval (tools.PrometheusServer)
Series = dict[tuple[tuple[str, str], ...], float]


def dashboard() -> dict[str, Any]:
    [found] = [d for d in load_prometheus_dashboards() if d["uid"] == "evmon-service-prometheus"]
    return found


def jobs() -> list[str]:
    config = yaml.safe_load((RULES_DIR / "prometheus.yml").read_text())
    return [job["job_name"] for job in config["scrape_configs"] if job["job_name"].startswith("evmon-")]


def ask(prometheus: PrometheusServer, query: PromQuery, projects: list[str] | None) -> Series:
    [project] = [v for v in dashboard()["templating"]["list"] if v["name"] == "project"]
    return prometheus.query(interpolate(query.expr, projects, project["allValue"], SCRAPE_S, SCRAPE_S, 3600))


def by(found: Series, *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(dict(key)[label] for label in labels): value for key, value in found.items()}


def the(found: Series) -> float:
    assert len(found) == 1, found
    return next(iter(found.values()))


@contextmanager
def running_stack(
    tmp_path: Path, data_dir: Path, demo_workspace: Path, pg_dsn: str, service: Service
) -> Iterator[tuple[PrometheusServer, dict[str, Any]]]:
    ws = copy_workspace(demo_workspace, tmp_path / "workspace")
    config = write_config(tmp_path / "projects.yaml", data_dir, credit_scorecard={}, taxi_duration={})
    env = {**os.environ, "EVMON_WORKSPACE": str(ws.root), "EVMON_PG_DSN": pg_dsn, "DO_NOT_TRACK": "1"}
    scheduler_job, bridge_job = jobs()
    ports = {scheduler_job: free_port(), bridge_job: free_port()}
    service(
        "scheduler", "-c", str(config), "--today", DEMO_TODAY.isoformat(), "--poll", "1",
        "--metrics-port", str(ports[scheduler_job]), env=env,
    )  # fmt: skip
    service("bridge", "-c", str(config), "--interval", "0.5", "--metrics-port", str(ports[bridge_job]), env=env)
    targets = {job: f"127.0.0.1:{port}" for job, port in ports.items()}
    with prometheus_server(tmp_path / "prometheus", targets, [RULES_DIR / "rules" / "evmon.yml"]) as prometheus:
        yield prometheus, {"workspace": ws, "config": config, "env": env, "ports": ports}


def evmon(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evmon.cli", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )


@needs_prometheus
def test_every_panel_answers_with_the_stacks_numbers(
    data_dir: Path, demo_workspace: Path, pg_dsn: str, tmp_path: Path, service: Service
) -> None:
    with running_stack(tmp_path, data_dir, demo_workspace, pg_dsn, service) as (prometheus, stack):
        ws, env = stack["workspace"], stack["env"]
        run_log = RunLog(ws.evmon_dir)

        def counted(project: str, status: str) -> int:
            return sum(r.status == status for r in run_log.records(project))

        # the copied log's runs are scraped, and both projects' newest days are in Postgres
        before = {(p, s): counted(p, s) for p in (CREDIT, TAXI) for s in ("ok", "failed")}
        for (project, status), n in before.items():
            query = f'evmon_runs_total{{project="{project}",status="{status}"}}'
            prometheus.wait_for(query, lambda f, n=n: list(f.values()) == [n], 60)
        prometheus.wait_for("evmon_project_newest_day_timestamp_seconds", lambda f: len(f) == 2, 60)

        # one more ok run (taxi's newest day again) and one failed run (credit with a column its data lacks)
        rerun = evmon("run", TAXI, "--day", DEMO_END.isoformat(), "--today", DEMO_TODAY.isoformat(), "-c",
                      str(stack["config"]), env=env)  # fmt: skip
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        raw = yaml.safe_load((REPO / "projects.yaml").read_text())
        [credit] = [p for p in raw["projects"] if p["name"] == CREDIT]
        columns = credit["columns"] | {"numerical": [*credit["columns"]["numerical"], "MonthsSinceBankruptcy"]}
        broken = write_config(tmp_path / "broken.yaml", data_dir, credit_scorecard={"columns": columns})
        failed = evmon("run", CREDIT, "--day", DEMO_END.isoformat(), "-c", str(broken), env=env)
        assert failed.returncode != 0 and counted(CREDIT, "failed") == before[(CREDIT, "failed")] + 1, failed.stderr
        wanted = {(TAXI, "ok"): before[(TAXI, "ok")] + 1, (CREDIT, "failed"): before[(CREDIT, "failed")] + 1}
        for (project, status), n in wanted.items():
            query = f'evmon_runs_total{{project="{project}",status="{status}"}}'
            prometheus.wait_for(query, lambda f, n=n: list(f.values()) == [n], 60)
        prometheus.wait_for("project:evmon_runs_failed:increase1d > 0", lambda f: len(f) == 1, 30)
        prometheus.wait_for("max(evmon_bridge_lag_seconds)", lambda f: list(f.values()) == [0], 60)

        queries = {q.panel["title"] + "/" + q.where.rsplit("/ ", 1)[1]: q for q in promql_queries(dashboard())}
        answers: dict[str, Series] = {}
        for key, query in queries.items():
            found = ask(prometheus, query, None)
            assert found, f"{query.where}: no series for {query.expr}"
            for labels in found:
                assert legend_labels(query.legend) <= dict(labels).keys(), (query.where, labels)
            answers[key] = found
            # one project selected: the per-project panels show only it
            if any("project" in s.matchers for s in selectors(query.expr)):
                only = ask(prometheus, query, [TAXI])
                assert only and {dict(k).get("project") for k in only} == {TAXI}, (query.where, only)

        assert by(answers["Services answering /metrics/A"], "job") == {(job,): 1.0 for job in jobs()}
        assert the(answers["Bridge: Postgres/A"]) == 1 and the(answers["projects.yaml/A"]) == 1
        assert the(answers["Config errors in the time range/A"]) == 0
        p95 = the(answers["Run duration p95 (last 24 hours)/A"])
        assert 0 < p95 <= 60, "the re-run's duration, in its bucket (1 s to 1 min)"

        runs = {k: round(v) for k, v in by(answers["Runs in the last 24 hours, by project and status/A"],
                                           "project", "status").items()}  # fmt: skip
        assert runs == {
            (p, s): int((p, s) in wanted) for p in (CREDIT, TAXI) for s in ("ok", "skipped", "failed", "busy")
        }
        failed_runs = by(answers["Failed runs in the last 24 hours/A"], "project")
        assert {k: round(v) for k, v in failed_runs.items()} == {(CREDIT,): 1, (TAXI,): 0}

        # the scheduler's clock: noon UTC on --today; each project's newest ok day ended at 24:00 in its timezone
        now = datetime.combine(DEMO_TODAY, time(12), tzinfo=UTC)
        ages = by(answers["Last successful day: age/A"], "project")
        for project, tz in ((CREDIT, "UTC"), (TAXI, "America/New_York")):
            newest = max(r.day for r in run_log.records(project) if r.status == "ok" and r.kind == "daily")
            ended = datetime.combine(newest + timedelta(days=1), time(0), tzinfo=ZoneInfo(tz))
            assert ages[(project,)] == (now - ended).total_seconds() / 3600, project
        assert ages == {(CREDIT,): 12.0, (TAXI,): 8.0}
        assert by(answers["Due days waiting/A"], "project") == {(CREDIT,): 0, (TAXI,): 0}
        assert by(answers["Bridge lag per project/A"], "project") == {(CREDIT,): 0, (TAXI,): 0}
        assert by(answers["Bridge: syncs per minute/A"], "result")[("ok",)] > 0
        for ref in "ABCD":
            assert math.isfinite(the(answers[f"Bridge: snapshot files per minute/{ref}"]))

        # the newest values: Postgres's drift shares, the bridge's own /metrics for the rest
        with psycopg.connect(pg_dsn) as conn:
            drift = dict(
                conn.execute(
                    "SELECT DISTINCT ON (project) project, drifted_share FROM evmon.dataset_drift "
                    "WHERE kind = 'daily' ORDER BY project, day DESC"
                ).fetchall()
            )
        assert {k[0]: v for k, v in by(answers["Newest dataset drift share/A"], "project").items()} == drift
        exported = samples(scrape(f"http://127.0.0.1:{stack['ports'][jobs()[1]]}/metrics"))
        missing = {dict(k)["project"]: v for (n, k), v in exported.items() if n == "evmon_project_missing_share"}
        assert {k[0]: v for k, v in by(answers["Newest missing values share/A"], "project").items()} == missing
        quality = by(answers["Newest model quality (model-wide)/A"], "project", "metric")
        assert set(quality) == {(CREDIT, "roc_auc"), (TAXI, "r2")}
        for (project, metric), value in quality.items():
            key = ("evmon_project_quality", (("metric", metric), ("project", project), ("segment", "all")))
            assert value == exported[key]


def test_the_dashboard_asks_for_every_panel_the_issue_names() -> None:
    titles = {q.panel["title"] for q in promql_queries(dashboard())}
    assert {
        "Runs in the last 24 hours, by project and status",
        "Last successful day: age",
        "Due days waiting",
        "Config errors in the time range",
        "Bridge: syncs per minute",
        "Bridge: snapshot files per minute",
        "Bridge lag per project",
        "Bridge: Postgres",
        "Newest dataset drift share",
        "Newest missing values share",
        "Newest model quality (model-wide)",
    } <= titles
    exprs = " ".join(q.expr for q in promql_queries(dashboard()))
    for metric in ("evmon_bridge_snapshots_ingested_total", "evmon_bridge_snapshots_failed_total", "evmon_runs_total"):
        assert metric in exprs
    # the recording rules, where they exist, rather than their expressions again
    for rule in ("project:evmon_last_success_age:hours", "project:evmon_runs_failed:increase1d"):
        assert rule in exprs
    assert "evmon_project_last_success_age_seconds" not in exprs
