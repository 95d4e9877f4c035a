"""bench/backfill.py --outliers and --fairness-outliers: what the bias sections cost a day, paired in one process."""

from __future__ import annotations

import statistics
import time
from datetime import date, timedelta
from pathlib import Path

import yaml

from bench._timing import paired_alternating
from evmon.config.loader import load_config
from evmon.days import day_window_utc, snapshot_timestamp
from evmon.storage.files import FilesWorkspace

REPO = Path(__file__).resolve().parents[1]


def outliers_cost(out: Path, config_path: Path, bench_days: list[date], rows: int, rounds: int) -> None:
    """The outliers section's share of a day's run: each day with and without it, back to back, in this process."""
    days = len(bench_days)
    from evmon.config.outliers import Outliers
    from evmon.days import labels_arrived
    from evmon.evidently.guard import check_day
    from evmon.evidently.outliers import day_outlier_parts
    from evmon.outliers.daily import fitted_reference
    from evmon.run.day import reference_frame, run_day
    from evmon.sources import read as sources

    config = load_config(config_path)
    off = config.projects[0]
    # a project name of its own: each side keeps its reference, checks and estimator cached, as in production
    on = off.model_copy(update={"outliers": Outliers(), "name": f"{off.name}_outliers"})
    reference = reference_frame(config, on)  # as the day's run will find it, cached
    checked_reference = check_day(on, reference, reference, with_quality=False, reuse_reference=True).reference
    started = time.perf_counter()
    fitted_reference(on, Outliers(), checked_reference)  # kept for the days below: the once-per-process work
    fit_s = time.perf_counter() - started
    today = bench_days[-1] + timedelta(days=30)
    workspace = FilesWorkspace(out / "ws_outliers")
    direct_s: list[float] = []
    print(f"{days} days of credit_scorecard at ~{rows} rows/day, as projects.yaml; {rounds} rounds, 1 process")

    def day_s(watching: bool, day: date) -> float:
        result = run_day(config, on if watching else off, day, workspace=workspace, today=today, trigger="bench")
        if result.outcome != "ok":
            raise SystemExit(f"a day failed: {result.line()}")
        return result.duration_s

    def direct(day: date) -> None:
        # the outlier figures and their Report parts alone, on the frames the day's run hands them
        current = sources.read_window(config, on, *day_window_utc(day, on.timezone))
        labelled = labels_arrived(day, today, on.label_lag_days)
        checked = check_day(on, current, reference_frame(config, on), with_quality=labelled, reuse_reference=True)
        clock = time.perf_counter()
        day_outlier_parts(on, checked.current, checked.reference, labelled, snapshot_timestamp(day))
        direct_s.append(time.perf_counter() - clock)

    with_s, without_s = paired_alternating(bench_days, rounds, day_s, direct)
    paired = [w - wo for w, wo in zip(with_s, without_s, strict=True)]
    base = statistics.median(without_s)
    print(f"a day without outliers: median {base:.3f} s ({len(without_s)} day runs)")
    print(f"a day with outliers:    median {statistics.median(with_s):.3f} s ({len(with_s)} day runs)")
    print(
        f"outliers' cost: paired difference median {statistics.median(paired):+.3f} s = "
        f"{statistics.median(paired) / base:+.1%} of a day without them; timed directly (figures + their Report "
        f"parts) median {statistics.median(direct_s):.3f} s = {statistics.median(direct_s) / base:.1%}  "
        "(goal, with fairness: <= 15%)"
    )
    print(f"the reference's ranges, lists and forest (once per process): {fit_s:.3f} s")


def fairness_outliers_cost(out: Path, config_path: Path, bench_days: list[date], rows: int, rounds: int) -> None:
    """A day with both `fairness` and `outliers` (as projects.yaml has them) against a day with neither."""
    days = len(bench_days)
    from evmon.config.model import Project
    from evmon.run.day import run_day

    config = load_config(config_path)
    off = config.projects[0]
    sections = yaml.safe_load((REPO / "projects.yaml").read_text())["projects"][0]
    on = Project.model_validate(
        {
            **off.model_dump(),
            "name": f"{off.name}_both",  # its own caches (reference, forest), as a second project would have
            "fairness": sections["fairness"],
            "outliers": sections["outliers"],
        }
    )
    today = bench_days[-1] + timedelta(days=30)  # every day labelled: the per-group rates and outlier quality too
    workspace = FilesWorkspace(out / "ws_fairness_outliers")

    def day_s(project: Project, day: object) -> float:
        result = run_day(config, project, day, workspace=workspace, today=today, trigger="bench")  # type: ignore[arg-type]
        if result.outcome != "ok":
            raise SystemExit(f"a day failed: {result.line()}")
        return result.duration_s

    warm_off, warm_on = day_s(off, bench_days[0]), day_s(on, bench_days[0])
    print(
        f"{days} days of credit_scorecard at ~{rows} rows/day, labelled, as projects.yaml; {rounds} rounds, 1 process"
    )
    print(
        "first day (untimed warm-up, the reference's work once per process): "
        f"neither {warm_off:.2f} s, both {warm_on:.2f} s"
    )
    with_s, without_s = paired_alternating(bench_days, rounds, lambda both, day: day_s(on if both else off, day))
    ratios = [w / wo for w, wo in zip(with_s, without_s, strict=True)]
    base, both_s = statistics.median(without_s), statistics.median(with_s)
    print(f"a day with neither: median {base:.3f} s ({len(without_s)} day runs)")
    print(f"a day with both:    median {both_s:.3f} s ({len(with_s)} day runs)")
    print(
        f"ratio both / neither: of the medians {both_s / base:.3f}; "
        f"paired per day: median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, "
        f"max {max(ratios):.3f}  (goal <= 1.15)"
    )
