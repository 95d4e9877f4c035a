"""Benchmark: what `fairness` (on region) costs a day of the credit scorecard, paired with and without.

    .venv/bin/python bench/fairness.py [--days 10] [--rows 10000] [--rounds 3]

The same days (demo data at about --rows rows a day, as bench/backfill.py prepares it, with the
credit project's segments and estimation as in projects.yaml) run with and without
`fairness: {sensitive: [region], reference_group: {region: north}}`, back to back in this one
process, alternating which goes first, labelled days (the labels of every day have arrived).
Prints the median day's run time of each, their ratio, the paired difference as a share of a day,
and fairness timed directly (evmon.fairness.daily plus the Report part that stores its values).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _days import bench_days  # noqa: E402
from backfill import prepare  # noqa: E402

from evmon.config.loader import load_config  # noqa: E402
from evmon.config.model import Project  # noqa: E402
from evmon.days import day_window_utc, snapshot_timestamp  # noqa: E402
from evmon.evidently.fairness import fairness_part  # noqa: E402
from evmon.fairness.daily import day_fairness  # noqa: E402
from evmon.run.day import run_day  # noqa: E402
from evmon.sources import read as sources  # noqa: E402
from evmon.storage.files import FilesWorkspace  # noqa: E402

FAIRNESS = {"sensitive": ["region"], "reference_group": {"region": "north"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "backfill")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    config_path = prepare(args.out, args.days, args.rows, estimation=True)
    config = load_config(config_path)
    off = config.projects[0]
    on = Project.model_validate({**off.model_dump(), "fairness": FAIRNESS})
    days = bench_days(config_path)
    today = days[-1] + timedelta(days=30)
    workspace = FilesWorkspace(args.out / "ws_fairness")
    with_s: list[float] = []
    without_s: list[float] = []
    direct_s: list[float] = []
    print(f"{args.days} days of credit_scorecard at ~{args.rows} rows/day, labelled; {args.rounds} rounds, 1 process")
    for round_ in range(args.rounds):
        for i, day in enumerate(days):
            order = (False, True) if (i + round_) % 2 == 0 else (True, False)
            for fair in order:
                result = run_day(config, on if fair else off, day, workspace=workspace, today=today, trigger="bench")
                if result.outcome != "ok":
                    raise SystemExit(f"a day failed: {result.line()}")
                (with_s if fair else without_s).append(result.duration_s)
            current = sources.read_window(config, on, *day_window_utc(day, on.timezone))
            reference = sources.read_reference(config, on)
            clock = time.perf_counter()
            fairness_part(day_fairness(on, current, reference, labelled=True), snapshot_timestamp(day))
            direct_s.append(time.perf_counter() - clock)
    paired = [w - wo for w, wo in zip(with_s, without_s, strict=True)]
    day_s, base_s = statistics.median(with_s), statistics.median(without_s)
    print(f"a day without fairness: median {base_s:.3f} s ({len(without_s)} day runs)")
    print(f"a day with fairness:    median {day_s:.3f} s ({len(with_s)} day runs)")
    print(f"ratio with / without:   {day_s / base_s:.3f}")
    print(
        f"fairness's share of a day's run time: paired difference median {statistics.median(paired):+.3f} s "
        f"= {statistics.median(paired) / day_s:+.1%}; timed directly (the measures + their Report part) median "
        f"{statistics.median(direct_s):.3f} s = {statistics.median(direct_s) / day_s:.1%}"
    )


if __name__ == "__main__":
    main()
