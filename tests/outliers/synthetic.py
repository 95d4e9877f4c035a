"""A small project of its own, generated here (not the demo): a reference file and daily Parquet files."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig

NUMERICAL = ["income", "age", "balance"]
CATEGORICAL = ["channel", "tier"]
FIRST_DAY = date(2026, 5, 1)


def frame(rng: np.random.Generator, rows: int, day: date | None = None, outliers: float = 0.0) -> pd.DataFrame:
    """Rows like the reference; `outliers`: that share of them far outside it (and of a channel never seen)."""
    income = rng.lognormal(10, 0.4, rows)
    age = rng.integers(18, 80, rows).astype(float)
    balance = rng.normal(2_000, 500, rows)
    channel = rng.choice(["web", "branch", "phone"], rows, p=[0.6, 0.3, 0.1]).astype(object)
    tier = rng.choice([1, 2, 3], rows)
    hit = rng.random(rows) < outliers
    income[hit] *= 20
    balance[hit] = -balance[hit] * 5
    channel[hit & (rng.random(rows) < 0.5)] = "partner"
    score = 1 / (1 + np.exp(-(np.log(income) - 10) * 2 + (balance - 2_000) / 1_000))
    target = (rng.random(rows) < score).astype(int)
    out = pd.DataFrame(
        {"income": income, "age": age, "balance": balance, "channel": channel, "tier": tier, "p": score, "y": target}
    )
    start = datetime.combine(day or FIRST_DAY - timedelta(days=30), datetime.min.time())
    out["ts"] = [start + timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 86_400, rows))]
    return out


def write_project(
    folder: Path, reference: pd.DataFrame, days: dict[date, pd.DataFrame], outliers: Any = True, **extra: Any
) -> EvmonConfig:
    """projects.yaml for project 'synth' reading these frames; loaded."""
    (folder / "daily").mkdir(parents=True, exist_ok=True)
    reference.to_parquet(folder / "reference.parquet")
    for day, rows in days.items():
        rows.to_parquet(folder / "daily" / f"{day}.parquet")
    project = {
        "name": "synth",
        "source": {"type": "files", "path": "daily/*.parquet", "timestamp_column": "ts"},
        "reference": {"path": "reference.parquet"},
        "columns": {
            "numerical": NUMERICAL,
            "categorical": CATEGORICAL,
            "target": "y",
            "prediction": {"column": "p", "kind": "probability"},
        },
        "presets": {"data_drift": True, "classification": {"probas_threshold": 0.5}},
        "outliers": outliers,
        **extra,
    }
    path = folder / "projects.yaml"
    path.write_text(yaml.safe_dump({"workspace": "workspace", "projects": [project]}, sort_keys=False))
    return load_config(path)
