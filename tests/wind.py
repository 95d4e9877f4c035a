"""A tiny made-up project for source tests: a wind farm's power model, a few rows a day.

Files are written in tmp_path by each test (good ones, and the bad ones a test is about);
`wind_config` writes a projects.yaml pointing at them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig

COLUMNS = {
    "numerical": ["wind_speed", "temperature"],
    "categorical": ["site"],
    "target": "power",
    "prediction": {"column": "power_pred", "kind": "regression"},
}


def day_rows(day: date, n: int = 6) -> pd.DataFrame:
    """n rows spread over the day, naive timestamps, deterministic values."""
    start = datetime(day.year, day.month, day.day)
    return pd.DataFrame(
        {
            "ts": [start + timedelta(hours=3 * i + 1) for i in range(n)],
            "wind_speed": [4.0 + (day.day + i) % 7 for i in range(n)],
            "temperature": [10.0 + (i % 3) for i in range(n)],
            "site": ["north" if i % 2 else "south" for i in range(n)],
            "power": [1.5 * (4.0 + (day.day + i) % 7) for i in range(n)],
            "power_pred": [1.4 * (4.0 + (day.day + i) % 7) for i in range(n)],
        }
    )


def days_rows(*days: date) -> pd.DataFrame:
    return pd.concat([day_rows(d) for d in days], ignore_index=True)


def wind_project(name: str, source: dict[str, Any], reference: dict[str, Any], **project: Any) -> dict[str, Any]:
    """One project entry of projects.yaml for the wind model."""
    entry: dict[str, Any] = {
        "name": name,
        "source": source,
        "reference": reference,
        "columns": COLUMNS,
        "presets": {"data_summary": True, "regression": True},
    }
    entry.update(project)
    return entry


def write_projects(folder: Path, *entries: dict[str, Any]) -> Path:
    path = folder / "projects.yaml"
    path.write_text(yaml.safe_dump({"workspace": "workspace", "projects": list(entries)}, sort_keys=False))
    return path


def write_reference(folder: Path, name: str = "ref.parquet") -> dict[str, Any]:
    """A good reference file (two days of December, no timestamps); its reference entry."""
    days_rows(date(2025, 12, 1), date(2025, 12, 2)).drop(columns=["ts"]).to_parquet(folder / name, index=False)
    return {"path": name}


def wind_config(
    folder: Path, source: dict[str, Any], reference: dict[str, Any] | None = None, **project: Any
) -> EvmonConfig:
    """A projects.yaml in `folder` with one project 'wind' reading `source`; the reference defaults
    to a good file of its own (ref.parquet), so a bad daily file cannot spoil it."""
    reference = reference if reference is not None else write_reference(folder)
    return load_config(write_projects(folder, wind_project("wind", source, reference, **project)))


def sqlalchemy_url(dsn: str) -> str:
    """A libpq DSN (the `pg_dsn` fixture's) as the SQLAlchemy URL a SQL source's dsn_env holds."""
    import psycopg
    from sqlalchemy.engine import URL

    parts = psycopg.conninfo.conninfo_to_dict(dsn)
    url = URL.create(
        "postgresql+psycopg",
        username=str(parts.get("user", "postgres")),
        password=str(parts["password"]) if parts.get("password") else None,
        host=str(parts["host"]),
        port=int(str(parts["port"])),
        database=str(parts["dbname"]),
    )
    return url.render_as_string(hide_password=False)
