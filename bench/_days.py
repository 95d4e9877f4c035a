"""The days a bench config covers: its name says how many (bench_<N>d_...), from the day after the reference."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path


def bench_days(config_path: Path) -> list[date]:
    """The days of a config written by bench/backfill.py's prepare(), in order (evmon imported at call time:
    bench/_versus_side.py calls it with another checkout's evmon)."""
    from evmon.days import day_range
    from evmon.demo.data import REFERENCE_END

    days = int(config_path.stem.split("_")[1].rstrip("d"))
    first = REFERENCE_END + timedelta(days=1)
    return list(day_range(first, first + timedelta(days=days - 1)))
