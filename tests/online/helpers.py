"""A credit_scorecard config whose source is the service's row log, and the demo rows a service would score."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.demo.data import CREDIT_FEATURES, CREDIT_LIVE
from evmon.processes import free_port, start_service, wait_ready
from evmon.sources.read import read_reference
from tests.conftest import write_config

CREDIT = "credit_scorecard"


@contextmanager
def demo_service(
    tmp_path: Path, demo_dir: Path, online: dict[str, Any]
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The demo's credit service (uvicorn, a process of its own) on a free port, watched as projects.yaml's
    credit_scorecard_live with `online` as its online section; its URL and process; stopped by SIGTERM."""
    (tmp_path / "demo_data").symlink_to(demo_dir / "demo_data")  # the model beside the config, as in the demo
    config = write_config(tmp_path / "projects.yaml", demo_dir, **{CREDIT_LIVE: {"online": online}})
    port = free_port()
    command = [sys.executable, "-m", "evmon.demo.service", "--config", str(config), "--port", str(port)]
    process = start_service(command, os.environ | {"DO_NOT_TRACK": "1"}, tmp_path / "service.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url + "/health", process, timeout=60)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def online_config(
    tmp_path: Path, demo_dir: Path, *, window_rows: int = 1000, row_log: dict[str, Any] | None = None
) -> EvmonConfig:
    """credit_scorecard reading the rows its service logged under tmp_path/online, PSI on every column.

    The reference is the demo's January, written to a file (the source is now the row log)."""
    reference = tmp_path / "reference.parquet"
    if not reference.exists():
        demo = load_config(demo_dir / "projects.yaml")
        read_reference(demo, demo.project(CREDIT)).to_parquet(reference, index=False)
    log = row_log if row_log is not None else {"path": str(tmp_path / "online"), "flush_every_s": 0.2}
    path = write_config(
        tmp_path / "projects.yaml",
        demo_dir,
        credit_scorecard={
            "source": {
                "path": str(tmp_path / "online" / "*" / "*" / "*.parquet"),
                "timestamp_column": "application_ts",
            },
            "reference": {"path": str(reference)},
            "presets": {"data_drift": {"method": "psi"}, "data_summary": True},
            "fairness": None,
            "outliers": None,
            "segments": [],
            "online": {"window_rows": window_rows, "drift_every_s": 3600, "row_log": log},
        },
        extra={"workspace": str(tmp_path / "workspace")},
    )
    return load_config(path)


def demo_day(demo_dir: Path, day: date) -> pd.DataFrame:
    return pd.read_parquet(demo_dir / "demo_data" / CREDIT / "daily" / f"{day.isoformat()}.parquet")


def request(row: pd.Series) -> dict[str, Any]:
    """One row as a service's JSON request holds it (NaN: the feature not sent)."""
    features = {c: float(row[c]) for c in CREDIT_FEATURES if not math.isnan(row[c])}
    return features | {"region": str(row["region"])}
