"""One project-day end to end with the real Evidently Report: conventions, replacement, errors."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.evidently.report import snapshot_bytes
from evmon.run.batch import DayTask
from evmon.run.day import DayResult, run_day
from evmon.run.many import run_many
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from evmon.storage.runlog import RunLog
from tests.conftest import DEMO_END, DEMO_TODAY, absolute_paths

CLEAN_DAY = date(2026, 3, 11)


def rows_in_file(demo_dir: Path, project: str, day: date) -> int:
    return len(pd.read_parquet(demo_dir / "demo_data" / project / "daily" / f"{day}.parquet"))


def variant_config(demo_dir: Path, tmp_path: Path, edit) -> EvmonConfig:  # type: ignore[no-untyped-def]
    """The demo config with absolute data paths, changed by `edit(raw_dict)`, saved in tmp_path."""
    raw = yaml.safe_load((demo_dir / "projects.yaml").read_text())
    for project in raw["projects"]:
        absolute_paths(project, demo_dir)
    edit(raw)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_config(path)


def test_a_day_gives_one_snapshot_following_the_conventions(demo_config_path: Path, workspace_path: Path) -> None:
    config = load_config(demo_config_path)
    ws = FilesWorkspace(workspace_path)
    project = config.project("credit_scorecard")
    result = run_day(config, project, CLEAN_DAY, workspace=ws, today=DEMO_TODAY)
    assert result.outcome == "ok", result.line()
    expected_rows = rows_in_file(demo_config_path.parent, "credit_scorecard", CLEAN_DAY)
    assert result.rows == expected_rows
    pid = project_id("credit_scorecard")
    files = ws.list_snapshots(pid)
    assert [f.snapshot_id for f in files] == [daily_snapshot_id("credit_scorecard", CLEAN_DAY)]
    snapshot = ws.read_snapshot(pid, files[0].snapshot_id)
    assert snapshot["timestamp"] == "2026-03-11T00:00:00"  # naive UTC start of the day
    assert snapshot["tags"] == ["daily", "labelled"]
    assert snapshot["name"] == "credit_scorecard 2026-03-11"
    meta = snapshot["metadata"]
    assert meta["day"] == "2026-03-11" and meta["rows"] == str(expected_rows) and meta["labels"] == "yes"
    assert meta["config_hash"] == project.config_hash() and meta["evmon_version"] == "0.1.0"
    records = RunLog(ws.evmon_dir).records("credit_scorecard")
    assert [(r.day, r.status, r.rows, r.labels_included) for r in records] == [(CLEAN_DAY, "ok", expected_rows, True)]
    assert records[0].duration_s > 0

    from evidently._pydantic_compat import parse_obj_as
    from evidently.core.serialization import SnapshotModel

    model = parse_obj_as(SnapshotModel, snapshot)  # what the Evidently UI does with the file
    kinds = {r.metric_type for r in flatten(snapshot)}
    assert {"DriftedColumnsCount", "ValueDrift", "RowCount", "RocAuc"} <= kinds
    assert len(model.metric_results) == len(snapshot["metric_results"])


def test_rerunning_a_day_replaces_its_snapshot(demo_config_path: Path, workspace_path: Path) -> None:
    config = load_config(demo_config_path)
    ws = FilesWorkspace(workspace_path)
    project = config.project("taxi_duration")
    first = run_day(config, project, CLEAN_DAY, workspace=ws, today=DEMO_TODAY)
    before = ws.list_snapshots(project_id("taxi_duration"))
    second = run_day(config, project, CLEAN_DAY, workspace=ws, today=DEMO_TODAY)
    after = ws.list_snapshots(project_id("taxi_duration"))
    assert first.outcome == second.outcome == "ok"
    assert len(before) == len(after) == 1
    assert before[0].snapshot_id == after[0].snapshot_id
    assert after[0].mtime_ns > before[0].mtime_ns
    assert first.rows == second.rows == rows_in_file(demo_config_path.parent, "taxi_duration", CLEAN_DAY)
    assert [r.status for r in RunLog(ws.evmon_dir).records("taxi_duration")] == ["ok", "ok"]
    assert run_day(config, project, CLEAN_DAY, workspace=ws, today=DEMO_TODAY, force=False).outcome == "exists"


def test_a_snapshot_whose_run_was_never_logged_is_logged_when_found(
    demo_config_path: Path, workspace_path: Path
) -> None:
    """A run killed between writing its snapshot and logging it: the next pass logs it once."""
    config = load_config(demo_config_path)
    ws = FilesWorkspace(workspace_path)
    project = config.project("taxi_duration")
    first = run_day(config, project, CLEAN_DAY, workspace=ws, today=DEMO_TODAY)
    with sqlite3.connect(ws.evmon_dir / "runs.sqlite3") as conn:
        conn.execute("DELETE FROM runs")
    for _ in range(2):
        again = run_day(config, project, CLEAN_DAY, workspace=ws, today=DEMO_TODAY, force=False)
        assert again.outcome == "exists"
    records = RunLog(ws.evmon_dir).records("taxi_duration")
    assert [(r.status, r.trigger, r.day, r.rows, r.snapshot_id) for r in records] == [
        ("ok", "recovered", CLEAN_DAY, first.rows, first.snapshot_id)
    ]


def test_a_day_already_done_says_so_without_an_option_its_printer_lacks(
    demo_config_path: Path, workspace_path: Path
) -> None:
    """`exists` lines are printed by the scheduler, the demo and the app: none of them has a --force."""
    config = load_config(demo_config_path)
    ws = FilesWorkspace(workspace_path)
    ws.prepare()
    project = config.project("taxi_duration")
    # the scheduler planned the day, another process did it meanwhile (still_due says no under the lock)
    meanwhile = run_day(config, project, CLEAN_DAY, workspace=ws, trigger="scheduler", still_due=lambda: False)
    assert meanwhile.line() == "taxi_duration 2026-03-11 exists: another process ran this day meanwhile"
    # a backfill or the demo finding the day's snapshot (force=False)
    there = DayResult(
        "taxi_duration", CLEAN_DAY, "exists", snapshot_id=str(daily_snapshot_id("taxi_duration", CLEAN_DAY))
    )
    assert there.line() == "taxi_duration 2026-03-11 exists: snapshot already there"


def test_quality_metrics_only_once_labels_arrived(demo_config_path: Path, workspace_path: Path) -> None:
    config = load_config(demo_config_path)
    ws = FilesWorkspace(workspace_path)
    project = config.project("credit_scorecard")  # label_lag_days: 3
    pid, sid = project_id(project.name), daily_snapshot_id(project.name, DEMO_END)

    early = run_day(config, project, DEMO_END, workspace=ws, today=DEMO_TODAY)
    snapshot = ws.read_snapshot(pid, sid)
    assert early.labels_included is False
    assert snapshot["tags"] == ["daily"] and snapshot["metadata"]["labels"] == "no"
    assert not {"Accuracy", "RocAuc", "F1Score"} & {r.metric_type for r in flatten(snapshot)}

    late = run_day(config, project, DEMO_END, workspace=ws, today=DEMO_END + timedelta(days=4))
    snapshot = ws.read_snapshot(pid, sid)
    assert late.labels_included is True and snapshot["tags"] == ["daily", "labelled"]
    segments = {r.params.get("classification_name") for r in flatten(snapshot) if r.metric_type == "RocAuc"}
    assert segments == {"default", "region=north", "region=south", "region=east", "region=west"}


def test_an_empty_day_is_a_recorded_skip_without_snapshot(demo_config_path: Path, workspace_path: Path) -> None:
    config = load_config(demo_config_path)
    ws = FilesWorkspace(workspace_path)
    result = run_day(config, config.project("credit_scorecard"), date(2025, 12, 1), workspace=ws, today=DEMO_TODAY)
    assert result.outcome == "skipped" and result.rows == 0
    assert ws.list_snapshots(project_id("credit_scorecard")) == []
    [record] = RunLog(ws.evmon_dir).records()
    assert (record.status, record.rows, record.error) == ("skipped", 0, None)


def test_a_missing_column_fails_that_project_only(demo_dir: Path, tmp_path: Path) -> None:
    def add_column(raw: dict) -> None:  # type: ignore[type-arg]
        raw["projects"][0]["columns"]["numerical"].append("MonthsSinceBankruptcy")

    config = variant_config(demo_dir, tmp_path, add_column)
    ws = FilesWorkspace(tmp_path / "ws")
    tasks = [DayTask(p, CLEAN_DAY) for p in config.projects]
    credit, taxi, live = run_many(config, tasks, workspace=ws, workers=1, today=DEMO_TODAY)
    assert taxi.outcome == "ok"
    assert live.line() == "credit_scorecard_live 2026-03-11 skipped: no rows"  # its service logged none here
    assert credit.outcome == "failed"
    assert credit.error is not None
    assert credit.error.startswith(
        "credit_scorecard: column 'MonthsSinceBankruptcy' (columns.numerical) is missing from "
        f"{demo_dir}/demo_data/credit_scorecard/daily/2026-03-11.parquet; it has: application_ts, "
    )
    records = {r.project: r for r in RunLog(ws.evmon_dir).records()}
    assert records["credit_scorecard"].status == "failed" and records["credit_scorecard"].error == credit.error
    assert ws.list_snapshots(project_id("credit_scorecard")) == []


def test_an_unreadable_file_is_a_recorded_error_naming_it(demo_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    day_file = demo_dir / "demo_data" / "credit_scorecard" / "daily" / f"{CLEAN_DAY}.parquet"
    (data / f"{CLEAN_DAY}.parquet").write_bytes(day_file.read_bytes()[:5000])  # truncated

    def point_at_copy(raw: dict) -> None:  # type: ignore[type-arg]
        raw["projects"][0]["source"]["path"] = str(data / "*.parquet")
        raw["projects"][0]["reference"] = {"path": str(day_file)}

    config = variant_config(demo_dir, tmp_path, point_at_copy)
    result = run_day(config, config.projects[0], CLEAN_DAY, workspace=FilesWorkspace(tmp_path / "ws"), today=DEMO_TODAY)
    assert result.outcome == "failed"
    assert result.error is not None and result.error.startswith(
        f"credit_scorecard: cannot read {data}/2026-03-11.parquet"
    )


def test_csv_and_sql_sources_give_the_same_rows_as_parquet(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = pd.read_parquet(demo_dir / "demo_data" / "taxi_duration" / "daily" / f"{CLEAN_DAY}.parquet")
    neighbour = pd.read_parquet(
        demo_dir / "demo_data" / "taxi_duration" / "daily" / f"{CLEAN_DAY + timedelta(1)}.parquet"
    )
    both = pd.concat([frame, neighbour])
    (tmp_path / "csv").mkdir()
    both.to_csv(tmp_path / "csv" / "trips.csv", index=False)
    db = tmp_path / "trips.db"
    with sqlite3.connect(db) as conn:
        both.assign(pickup_ts=both["pickup_ts"].dt.strftime("%Y-%m-%d %H:%M:%S")).to_sql("trips", conn, index=False)
    monkeypatch.setenv("TRIPS_DSN", f"sqlite:///{db}")

    def as_csv(raw: dict) -> None:  # type: ignore[type-arg]
        raw["projects"][1]["source"]["path"] = str(tmp_path / "csv" / "*.csv")

    def as_sql(raw: dict) -> None:  # type: ignore[type-arg]
        raw["projects"][1]["source"] = {
            "type": "sql",
            "dsn_env": "TRIPS_DSN",
            "query": "SELECT * FROM trips WHERE pickup_ts >= :start AND pickup_ts < :end",
            "timestamp_column": "pickup_ts",
            "timestamp_timezone": "America/New_York",
        }

    from evmon.days import day_window_utc
    from evmon.sources import read as sources

    start, end = day_window_utc(CLEAN_DAY, "America/New_York")
    for edit in (as_csv, as_sql):
        config = variant_config(demo_dir, tmp_path, edit)
        got = sources.read_window(config, config.projects[1], start, end)
        assert len(got) == len(frame), edit.__name__
        assert sorted(got["trip_distance"]) == sorted(frame["trip_distance"])


def test_a_sql_source_without_its_dsn_fails_clearly(
    demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_DSN", raising=False)

    def as_sql(raw: dict) -> None:  # type: ignore[type-arg]
        raw["projects"][1]["source"] = {
            "type": "sql",
            "dsn_env": "NO_SUCH_DSN",
            "query": "SELECT * FROM trips WHERE pickup_ts >= :start AND pickup_ts < :end",
            "timestamp_column": "pickup_ts",
        }

    config = variant_config(demo_dir, tmp_path, as_sql)
    result = run_day(config, config.projects[1], CLEAN_DAY, workspace=FilesWorkspace(tmp_path / "ws"), today=DEMO_TODAY)
    assert result.outcome == "failed"
    assert result.error == (
        "taxi_duration: environment variable NO_SUCH_DSN (source.dsn_env) is not set; expected a SQLAlchemy URL "
        "such as postgresql+psycopg://user@host/db"
    )


def test_a_reused_reference_gives_the_same_values(demo_dir: Path) -> None:
    """Evidently caches results inside a Dataset: reusing the reference's across days changes no value."""
    import math

    from evmon.sources import read as sources
    from tests.evidently.day_snapshot import day_snapshot

    config = load_config(demo_dir / "projects.yaml")
    project = config.project("taxi_duration")
    reference = sources.read_reference(config, project)

    def values(day: date, reuse: bool) -> list[tuple[str, str, str | None, float | None]]:
        model = day_snapshot(config, project, reference, day, reuse_reference=reuse)
        rows = flatten(json.loads(snapshot_bytes(model)))
        return [
            (r.metric_id, r.value_kind, r.label, None if r.value is None or math.isnan(r.value) else r.value)
            for r in rows
        ]

    values(CLEAN_DAY - timedelta(days=1), reuse=True)  # the reference's Dataset is analysed and kept here
    assert values(CLEAN_DAY, reuse=True) == values(CLEAN_DAY, reuse=False)
