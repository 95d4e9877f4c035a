"""A credit_scorecard config whose source is the service's row log, and the demo rows a service would score."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.demo.data import CREDIT_FEATURES
from evmon.sources.read import read_reference
from tests.conftest import write_config

CREDIT = "credit_scorecard"


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
