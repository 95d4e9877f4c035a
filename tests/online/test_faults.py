"""Bad input and faults: the request path never sees an exception; the monitor counts, logs and goes on."""

from __future__ import annotations

import errno
import logging
import math
import os
from datetime import timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from prometheus_client import CollectorRegistry

from evmon.online.monitor import Monitor
from evmon.processes import free_port
from tests.conftest import DEMO_END
from tests.online.helpers import CREDIT, demo_day, online_config, request
from tests.run.test_full_disk import disk  # noqa: F401 - the tmpfs fixture

DAY = DEMO_END - timedelta(days=20)


def fill(mount: Path) -> None:
    """Write until the file system refuses (unbuffered: nothing left to flush at close)."""
    with open(mount / "filler", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    assert os.statvfs(mount).f_bfree == 0


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, {"model": CREDIT, "version": "t", **labels})
    return 0.0 if value is None else value


def serve(monitor: Monitor, frame: pd.DataFrame) -> None:
    for _, row in frame.iterrows():
        monitor.observe(request(row), float(row["default_probability"]), at=row["application_ts"].timestamp())


def test_bad_input_is_counted_per_feature_and_never_raises(tmp_path: Path, demo_dir: Path) -> None:
    config = online_config(tmp_path, demo_dir)
    registry = CollectorRegistry()
    monitor = Monitor(config, CREDIT, version="t", registry=registry)
    good = request(demo_day(demo_dir, DAY).iloc[0])
    monitor.observe({k: v for k, v in good.items() if k != "AverageMInFile"}, 0.2)  # missing
    monitor.observe(good | {"ExternalRiskEstimate": "seventy"}, 0.2)  # mistyped
    monitor.observe(good | {"PercentInstallTrades": math.nan, "AverageMInFile": math.inf}, 0.2)  # NaN, infinite
    monitor.observe(good | {"region": "atlantis"}, 0.2)  # a category the reference never holds
    monitor.observe(good | {"region": 3}, "high")  # mistyped category and score
    monitor.observe(None, 0.2)  # type: ignore[arg-type] # not a mapping at all
    monitor.observe(good, 0.2)
    assert monitor.flush()
    monitor.close()

    def problems(feature: str, problem: str) -> float:
        return sample(registry, "evmon_online_feature_problems_total", feature=feature, problem=problem)

    assert problems("AverageMInFile", "missing") == 1
    assert problems("ExternalRiskEstimate", "mistyped") == 1
    assert problems("PercentInstallTrades", "nan") == 1 and problems("AverageMInFile", "nan") == 1
    assert problems("region", "unknown_category") == 1
    assert problems("region", "mistyped") == 1 and problems("default_probability", "mistyped") == 1
    assert sample(registry, "evmon_online_rows_total") == 6
    assert sample(registry, "evmon_online_rows_dropped_total", reason="monitor_error") == 1
    assert sample(registry, "evmon_online_prediction_score_count") == 5  # "high" is not a score
    logged = pd.read_parquet(tmp_path / "online")
    assert len(logged) == 6
    assert logged["region"].tolist().count("atlantis") == 1  # logged as served: the daily run sees it too
    assert logged["ExternalRiskEstimate"].isna().sum() == 1  # the mistyped value: missing


def test_a_full_disk_drops_rows_with_a_count_and_a_line_and_keeps_what_was_written(
    tmp_path: Path,
    demo_dir: Path,
    disk: Path,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = online_config(tmp_path, demo_dir, row_log={"path": str(disk / "online"), "flush_every_s": 3600})
    registry = CollectorRegistry()
    monitor = Monitor(config, CREDIT, version="t", registry=registry)
    frame = demo_day(demo_dir, DAY)
    first, second, third = frame.iloc[:200], frame.iloc[200:400], frame.iloc[400:]
    serve(monitor, first)
    assert monitor.flush()
    before = {p: p.read_bytes() for p in (disk / "online").rglob("*.parquet")}
    assert sum(len(pd.read_parquet(p)) for p in before) == 200

    fill(disk)
    with caplog.at_level(logging.ERROR, logger="evmon.online"):
        serve(monitor, second)
        assert monitor.flush()
    assert sample(registry, "evmon_online_rows_dropped_total", reason="row_log") == 200
    assert sample(registry, "evmon_online_rows_total") == 400  # scoring and its metrics went on
    (line,) = [r.getMessage() for r in caplog.records]
    assert "200 scored rows dropped from the row log" in line and "No space left on device" in line
    assert {p: p.read_bytes() for p in (disk / "online").rglob("*.parquet")} == before  # nothing lost or changed
    assert not [p for p in (disk / "online").rglob("*") if p.name.endswith(".tmp")]  # nothing half-written

    (disk / "filler").unlink()
    serve(monitor, third)
    monitor.close()
    assert sample(registry, "evmon_online_rows_logged_total") == 200 + len(third)  # logging again
    assert len(pd.read_parquet(disk / "online")) == 200 + len(third)


def test_rows_go_to_a_postgres_table_and_a_down_postgres_drops_them_counted(
    tmp_path: Path, demo_dir: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ROWS_DSN", pg_dsn)
    table = {"type": "postgres", "dsn_env": "ROWS_DSN", "table": "credit_rows", "flush_every_s": 3600}
    config = online_config(tmp_path, demo_dir, row_log=table)
    frame = demo_day(demo_dir, DAY).iloc[:300]
    registry = CollectorRegistry()
    monitor = Monitor(config, CREDIT, version="t", registry=registry)
    serve(monitor, frame)
    monitor.close()
    with psycopg.connect(pg_dsn) as connection:
        rows = connection.execute(
            "SELECT count(*), count(DISTINCT application_ts), sum(default_probability) FROM credit_rows"
        ).fetchone()
    assert rows is not None and rows[0] == 300 and rows[1] == frame["application_ts"].nunique()
    assert abs(rows[2] - frame["default_probability"].sum()) < 1e-6
    assert sample(registry, "evmon_online_rows_logged_total") == 300

    monkeypatch.setenv("ROWS_DSN", f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")  # nobody listens
    registry = CollectorRegistry()
    monitor = Monitor(config, CREDIT, version="t", registry=registry)
    with caplog.at_level(logging.ERROR, logger="evmon.online"):
        serve(monitor, frame.iloc[:50])
        monitor.close()
    assert sample(registry, "evmon_online_rows_dropped_total", reason="row_log") == 50
    assert sample(registry, "evmon_online_rows_total") == 50
    (line,) = [r.getMessage() for r in caplog.records]
    assert "50 scored rows dropped from the row log" in line and "credit_rows (ROWS_DSN)" in line
    with psycopg.connect(pg_dsn) as connection:
        assert connection.execute("SELECT count(*) FROM credit_rows").fetchone() == (300,)  # still all there
    assert os.environ["ROWS_DSN"] != pg_dsn
