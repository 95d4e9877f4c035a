"""The scheduler's /metrics, scraped over HTTP and parsed with prometheus_client's parser, against the run log
and the workspace; real Evidently runs where the numbers must move."""

from __future__ import annotations

import socket
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner

from evmon.cli import cli
from evmon.config.loader import load_config
from evmon.config.sections import MetricsSettings
from evmon.errors import ConfigError
from evmon.processes import free_port
from evmon.scheduler.metrics import STATUSES, scheduler_registry
from evmon.scheduler.service import SchedulerService, fixed_clock
from evmon.services.exporter import MetricsAddress, MetricsServer, metrics_address
from evmon.storage.runlog import RunLog
from tests.conftest import DEMO_END, DEMO_TODAY, write_config
from tests.prometheus.conftest import CREDIT, TAXI, copy_workspace
from tests.prometheus.tools import documented_metrics, family_names, of_metric, samples, scrape, value

NEW_YORK = ZoneInfo("America/New_York")  # taxi_duration's timezone


def ny_midnight(day: datetime) -> float:
    return day.replace(tzinfo=NEW_YORK).timestamp()


def test_runs_last_success_and_due_days_follow_the_run_log_and_the_workspace(
    data_dir: Path, demo_workspace: Path, tmp_path: Path
) -> None:
    ws = copy_workspace(demo_workspace, tmp_path / "workspace")  # both projects, 03-27..03-31
    config = write_config(tmp_path / "projects.yaml", data_dir, taxi_duration={})
    today = DEMO_TODAY + timedelta(days=3)  # 04-04: taxi's 04-01, 04-02 and 04-03 are due
    service = SchedulerService(config, workspace=ws, now=fixed_clock(today), dashboards=False)
    registry, due = scheduler_registry(service)
    due.refresh()
    run_log = RunLog(ws.evmon_dir)
    with MetricsServer(registry, MetricsAddress("127.0.0.1", free_port())) as server:
        text = scrape(server.address.url)
        found = samples(text)
        logged = Counter((r.project, r.status) for r in run_log.records())
        assert logged[(TAXI, "ok")] == logged[(CREDIT, "ok")] == 5
        assert of_metric(found, "evmon_runs_total") == {
            (("project", p), ("status", s)): float(logged[(p, s)]) for p in (CREDIT, TAXI) for s in STATUSES
        }  # every project of the run log, every status (0 until one happens)
        assert of_metric(found, "evmon_project_scheduled") == {(("project", TAXI),): 1.0}
        last_day = ny_midnight(datetime(2026, 3, 31))
        assert value(found, "evmon_project_last_success_day_timestamp_seconds", project=TAXI) == last_day
        # noon UTC on 04-04 is 08:00 in New York; 03-31 ended at 04-01 00:00 there
        assert value(found, "evmon_project_last_success_age_seconds", project=TAXI) == 3 * 86400 + 8 * 3600
        assert of_metric(found, "evmon_project_due_days") == {(("project", TAXI),): 3.0}
        ok = [r for r in run_log.records() if r.status == "ok"]  # every project's
        assert value(found, "evmon_run_duration_seconds_count") == len(ok) == 10
        assert value(found, "evmon_run_duration_seconds_sum") == pytest.approx(sum(r.duration_s for r in ok))
        assert value(found, "evmon_run_duration_seconds_bucket", le="10.0") == sum(r.duration_s <= 10 for r in ok)
        assert value(found, "evmon_run_duration_seconds_bucket", le="+Inf") == len(ok)
        assert value(found, "evmon_run_rows_sum") == sum(r.rows or 0 for r in ok)
        assert value(found, "evmon_run_rows_bucket", le="1000.0") == sum((r.rows or 0) <= 1000 for r in ok)
        assert (value(found, "evmon_scheduler_config_valid"), value(found, "evmon_scheduler_config_reloads_total")) == (
            1,
            0,
        )

        results = service.fire(TAXI)  # the three due days, for real
        assert [(r.day.isoformat(), r.outcome) for r in results] == [
            ("2026-04-01", "ok"),
            ("2026-04-02", "ok"),
            ("2026-04-03", "ok"),
        ]
        assert due.refresh() == 1  # taxi re-planned: its folder and its runs changed
        found = samples(scrape(server.address.url))
        assert value(found, "evmon_runs_total", project=TAXI, status="ok") == 8
        assert value(found, "evmon_runs_total", project=CREDIT, status="ok") == 5
        assert value(found, "evmon_run_duration_seconds_count") == 13
        assert value(found, "evmon_project_last_success_day_timestamp_seconds", project=TAXI) == ny_midnight(
            datetime(2026, 4, 3)
        )
        assert value(found, "evmon_project_last_success_age_seconds", project=TAXI) == 8 * 3600
        assert value(found, "evmon_project_due_days", project=TAXI) == 0

        good = config.read_text()
        config.write_text("projects: [oops")
        assert not service.reload()
        found = samples(scrape(server.address.url))
        assert value(found, "evmon_scheduler_config_errors_total") == 1
        assert value(found, "evmon_scheduler_config_valid") == 0
        config.write_text(good)
        assert service.reload()
        found = samples(scrape(server.address.url))
        assert value(found, "evmon_scheduler_config_reloads_total") == 1
        assert value(found, "evmon_scheduler_config_valid") == 1
    names = family_names(text)
    assert names <= documented_metrics() | {"evmon_build_info"}
    assert {n for n in documented_metrics() if n.startswith(("evmon_run", "evmon_scheduler"))} <= names


def test_a_port_in_use_stops_the_scheduler_with_one_error_line(data_dir: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "projects.yaml", data_dir, taxi_duration={})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["scheduler", "-c", str(config), "--metrics-port", str(port)])
    assert result.exit_code == 1
    assert (
        result.stderr.splitlines()[-1] == f"Error: metrics: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


def test_the_port_comes_from_the_option_else_projects_yaml_else_none(data_dir: Path, tmp_path: Path) -> None:
    metrics = {"metrics": {"host": "0.0.0.0", "scheduler_port": 9481, "bridge_port": 9482}}
    config = load_config(write_config(tmp_path / "projects.yaml", data_dir, metrics, taxi_duration={}))
    assert metrics_address(config.metrics, "scheduler") == MetricsAddress("0.0.0.0", 9481)
    assert metrics_address(config.metrics, "bridge", 9600, "127.0.0.1") == MetricsAddress("127.0.0.1", 9600)
    assert metrics_address(MetricsSettings(), "scheduler") is None  # off unless asked for
    assert metrics_address(MetricsSettings(), "bridge", 9600) == MetricsAddress("127.0.0.1", 9600)
    assert MetricsAddress("::1", 9481).url == "http://[::1]:9481/metrics"


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"scheduler_port": 9481, "bridge_port": 9481}, "must differ"),
        ({"scheduler_port": 0}, "greater than or equal to 1"),
        ({"port": 9481}, "port"),
    ],
)
def test_a_bad_metrics_section_is_a_config_error(
    data_dir: Path, tmp_path: Path, section: dict[str, int], problem: str
) -> None:
    path = write_config(tmp_path / "projects.yaml", data_dir, {"metrics": section}, taxi_duration={})
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "metrics" in str(error.value) and problem in str(error.value)
    assert yaml.safe_load(path.read_text())["metrics"] == section


def test_bridge_once_refuses_a_metrics_port(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["bridge", "--once", "--metrics-port", "9482", "-c", str(tmp_path / "x.yaml")])
    assert result.exit_code == 2
    assert "--metrics-port serves the running bridge; --once exits after one sync" in result.stderr


def test_day_boundaries_are_the_project_timezone_s() -> None:
    from evmon.services.exporter import day_end, day_start

    assert day_start(DEMO_END, "America/New_York") == ny_midnight(datetime(2026, 3, 31))
    assert day_end(DEMO_END, "America/New_York") - day_start(DEMO_END, "America/New_York") == 86400
    assert day_start(DEMO_END, "UTC") == datetime(2026, 3, 31, tzinfo=ZoneInfo("UTC")).timestamp()
