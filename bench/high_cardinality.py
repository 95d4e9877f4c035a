"""Benchmark: one day's real Report against the distinct values of one categorical column.

    .venv/bin/python bench/high_cardinality.py [--rows 100000] [--values 1000,5000,10000,20000,30000,35000,40000,100000]
                                               [--limit 60] [--cap 10000]

A project of three numerical features, a categorical one (`cat`) and a regression prediction,
with data_drift and data_summary on; the day and the reference each have --rows rows, `cat`
drawing from N distinct values in both. For each N, in a fresh process: the seconds of
evmon.evidently.report.compute_snapshot (Evidently's Report, as a day runs it) and the snapshot's
size, first with no cap (presets.data_drift.max_categories: null: `cat`'s drift computed), then
with --cap (`cat` left out of drift above it, the rest computed). Stops the uncapped runs after
the first over --limit seconds (Evidently's categorical drift grows with the square of N: the
next would take far longer). Prints one line per N; the largest N within --limit is the figure
docs/configuration.md quotes for max_categories.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_ONE = """
import sys, time, warnings
from datetime import datetime
sys.path.insert(0, {repo!r})
import numpy as np, pandas as pd
from evmon.config.model import Project
from evmon.evidently.report import compute_snapshot, snapshot_bytes
warnings.simplefilter("ignore")
rows, values, cap = {rows}, {values}, {cap}
project = Project.model_validate({{
    "name": "cardinality",
    "source": {{"type": "files", "path": "none.parquet", "timestamp_column": "ts"}},
    "reference": {{"path": "none.parquet"}},
    "columns": {{"numerical": ["a", "b", "c"], "categorical": ["cat"],
                "prediction": {{"column": "pred", "kind": "regression"}}}},
    "presets": {{"data_drift": {{"max_categories": cap}}, "data_summary": True}},
}})
def frame(seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({{
        "a": rng.normal(size=rows), "b": rng.normal(size=rows), "c": rng.normal(size=rows),
        "cat": [f"v{{i}}" for i in rng.integers(0, values, size=rows)], "pred": rng.normal(size=rows),
    }})
current, reference = frame(1), frame(2)
start = time.perf_counter()
model = compute_snapshot(project, current, reference, timestamp=datetime(2026, 3, 1), with_quality=False,
                         metadata={{}}, tags=[], name="x")
size = len(snapshot_bytes(model))
print(time.perf_counter() - start, size)
"""


def one(rows: int, values: int, cap: int | None, timeout: float) -> tuple[float, int] | None:
    """Seconds and snapshot bytes of one day's Report in a fresh process; None past `timeout`."""
    code = _ONE.format(repo=str(REPO), rows=rows, values=values, cap=cap)
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    try:
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise SystemExit(f"the Report failed for {values} distinct values:\n{done.stderr[-3000:]}")
    seconds, size = done.stdout.split()
    return float(seconds), int(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--values", default="1000,5000,10000,20000,30000,35000,40000,100000")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds a day may take")
    parser.add_argument("--cap", type=int, default=10000, help="max_categories of the capped runs")
    args = parser.parse_args()
    print(f"rows {args.rows} a day and in the reference; seconds of compute_snapshot, snapshot size")
    print(f"{'distinct':>9}  {'no cap':>18}  {'cap ' + str(args.cap):>18}")
    uncapped_on = True
    results = []
    for values in (int(v) for v in args.values.split(",")):
        uncapped = one(args.rows, values, None, args.limit * 5) if uncapped_on else None
        capped = one(args.rows, values, args.cap, args.limit * 5)
        results.append({"values": values, "uncapped": uncapped, "capped": capped})
        print(f"{values:>9}  {_shown(uncapped, uncapped_on):>18}  {_shown(capped, True):>18}", flush=True)
        if uncapped is None or uncapped[0] > args.limit:
            uncapped_on = False
    within = [r["values"] for r in results if r["uncapped"] is not None and r["uncapped"][0] <= args.limit]
    print(f"largest distinct values whose drift stays within {args.limit:.0f} s: {max(within) if within else 'none'}")
    out = REPO / "bench" / "out" / "high_cardinality.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rows": args.rows, "cap": args.cap, "at": time.time(), "results": results}, indent=1))


def _shown(result: tuple[float, int] | None, ran: bool) -> str:
    if not ran:
        return "not run"
    if result is None:
        return "timed out"
    return f"{result[0]:7.1f} s {result[1] / 1e6:6.1f} MB"


if __name__ == "__main__":
    main()
