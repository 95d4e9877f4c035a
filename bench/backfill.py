"""Benchmark: evmon's backfill (2 worker processes) against the seed's naive loop, same data.

    .venv/bin/python bench/backfill.py [--days 365] [--rows 10000] [--workers 2]
    .venv/bin/python bench/backfill.py --executor dask [--days 40]
    .venv/bin/python bench/backfill.py --estimation [--days 20] [--rows 10000] [--rounds 3]
    .venv/bin/python bench/backfill.py --outliers [--days 20] [--rows 10000] [--rounds 3]
    .venv/bin/python bench/backfill.py --fairness-outliers [--days 6] [--rows 10000] [--rounds 3]
    .venv/bin/python bench/backfill.py --compaction [--days 60] [--rows 10000]
    .venv/bin/python bench/backfill.py --segments [--days 6] [--rows 900] [--rounds 2]
    .venv/bin/python bench/backfill.py --explanations [--days 6] [--rows 10000] [--rounds 2]
    .venv/bin/python bench/backfill.py --versus c7cae3f [--days 6] [--rows 10000] [--rounds 3]
With --versus COMMIT: the naive loop, evmon at COMMIT and evmon here side by side (bench/_versus.py).

With --executor dask it compares evmon's two executors instead, on the same days: local (2
worker processes) against a real Dask cluster on this machine (`dask scheduler` and a `dask
worker` with 2 single-threaded processes, started by the bench), and prints the cluster path's
overhead (task submission, the snapshot's transfer back, the write here: the difference of the
wall times, per day and as a share of a day) and the bytes moved per day.

Data: the demo credit scorecard at about --rows rows a day, --days days (generated once into
bench/out/). Both sides compute the same presets for every day: data drift, data summary
and classification quality (the bench config drops the per-segment parts, which the seed
has no equivalent of), against the same reference window (January 2026).

- naive: what the zoomcamp seed does: load all the data, then for each day filter it,
  Report.run, and add the snapshot to an Evidently local Workspace (ws.add_run).
- evmon: `evmon.run.many.run_many` over the same days: per-day reads, per-day locks,
  atomic writes, run log, 2 processes, and Evidently's repeated pure computations done once
  (evmon/evidently/memo.py; active only inside evmon's Reports, so the naive loop in this
  same process runs Evidently as shipped).

Prints both wall times, the ratio, and evmon's per-day overhead outside Report.run (the
share of each day's time not spent in compute_snapshot). Goals: ratio >= 1.8 on 2 cores;
overhead <= 10%. (Estimation is off on both sides here: the seed has none.)

With --compaction it runs the same backfill twice, without and with the compaction run_many does
after the days (retention.full_days 7, today 30 days after the last day: every day is compacted, the
ratio of a backfill of old days), and prints the time compaction adds and the bytes of snapshot files the
Evidently UI parses at its next start, each as a ratio. The comparisons above compact nothing.

With --estimation it measures what estimated quality (presets.estimation, CBPE on the credit
model's scores, model-wide and per region) costs instead: the same days run with and without it,
in this one process (workers=1), alternating which goes first each round, and prints the median
day's run time of each, their ratio and estimation's share of a day (goal <= 10%), and the
estimator's one-off fit (once per process, on the calibration window).

With --fairness-outliers it measures what both sections cost together, as projects.yaml configures
them for the credit project (`fairness` on region, `outliers`): the same days run with both and
with neither, paired the same way, after one untimed day of each side (the reference's ranges and
forest, fitted once per process); prints the ratio of the medians and the median paired ratio
(goal <= 1.15).
With --outliers it measures what the `outliers` section (its defaults: per-column ranges and new
categories, the IsolationForest) costs the credit project as projects.yaml configures it (segments,
estimation): the same days run with and without it, paired the same way (goal, with fairness too:
<= 15%), and the reference's one-off work (ranges, lists, the forest's fit; once per process).
With --segments it measures what segments cost (bench/_segment_cost.py): the same days run in this one
process as five projects side by side, alike but for their segments and estimation: none (the
baseline), one segment value, three values, estimation without segments, three values with
estimation; it prints each one's median seconds per day (wall and CPU) and ratio to the baseline,
the cost of one segment value and of estimation per segment value.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import evmon  # noqa: E402,F401  (DO_NOT_TRACK)
from bench._days import bench_days  # noqa: E402
from bench._timing import paired_alternating  # noqa: E402
from evmon.config.loader import load_config  # noqa: E402
from evmon.config.sections import ExecutorSettings  # noqa: E402
from evmon.days import day_window_utc, snapshot_timestamp  # noqa: E402
from evmon.demo.data import DEMO_START, REFERENCE_END, ensure_demo_data  # noqa: E402
from evmon.run.batch import DayTask  # noqa: E402
from evmon.run.many import run_many  # noqa: E402
from evmon.storage.files import FilesWorkspace  # noqa: E402


def prepare(out: Path, days: int, rows: int, estimation: bool = False) -> Path:
    """Demo data for `days` days after the reference month, and a config without segments.

    estimation=True keeps the credit project's segments and presets.estimation (as projects.yaml).
    """
    end = REFERENCE_END + timedelta(days=max(days, 21))
    data = out / f"data_{days}d_{rows}r"
    ensure_demo_data(data, end=end, credit_rows=rows, taxi_rows=50)
    raw = yaml.safe_load((REPO / "projects.yaml").read_text())
    credit = raw["projects"][0]
    for section in ("fairness", "outliers", "model", "online"):  # the baseline: the modes that measure them add them
        credit.pop(section, None)
    credit["source"]["path"] = str(data / "credit_scorecard" / "daily" / "*.parquet")
    if not estimation:
        credit["segments"] = []
        credit["presets"].pop("estimation", None)
    raw["projects"] = [credit]
    config_path = out / f"bench_{days}d_{rows}r{'_estimation' if estimation else ''}.yaml"
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return config_path


def naive(config_path: Path, workspace: Path) -> float:
    """The seed's loop: load everything, filter per day, Report.run, ws.add_run."""
    import pandas as pd
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import ClassificationPreset, DataDriftPreset, DataSummaryPreset
    from evidently.ui.workspace import Workspace as EvidentlyWorkspace

    config = load_config(config_path)
    project = config.projects[0]
    cols = project.columns
    assert cols.prediction is not None and cols.target is not None
    started = time.perf_counter()
    frame = pd.read_parquet(config.resolve(project.source.path).parent)
    stamps = frame[project.source.timestamp_column]
    ref_start, _ = day_window_utc(DEMO_START, "UTC")
    _, ref_end = day_window_utc(REFERENCE_END, "UTC")
    reference = frame[(stamps >= ref_start) & (stamps < ref_end)]
    definition = DataDefinition(
        numerical_columns=[*cols.numerical, cols.prediction.column],
        categorical_columns=[*cols.categorical, cols.target],
        classification=[
            BinaryClassification(target=cols.target, prediction_probas=cols.prediction.column, pos_label=1)
        ],
    )
    ws = EvidentlyWorkspace(str(workspace))
    remote = ws.create_project(project.name)
    columns = [*definition.get_numerical_columns(), *definition.get_categorical_columns()]
    ref_ds = Dataset.from_pandas(reference[columns], data_definition=definition)
    for day in bench_days(config_path):
        lo, hi = day_window_utc(day, "UTC")
        current = frame[(stamps >= lo) & (stamps < hi)]
        report = Report([DataDriftPreset(columns=project.drift_columns()), DataSummaryPreset(), ClassificationPreset()])
        snapshot = report.run(
            Dataset.from_pandas(current[columns], data_definition=definition), ref_ds, timestamp=snapshot_timestamp(day)
        )
        ws.add_run(remote.id, snapshot, include_data=False)
    return time.perf_counter() - started


def with_evmon(
    config_path: Path,
    workspace: Path,
    workers: int,
    executor: ExecutorSettings | None = None,
    compact: bool = False,
) -> tuple[float, list[float]]:
    """run_many over the bench days; compact=False by default: the naive loop and the executors compare days only."""
    config = load_config(config_path)
    project = config.projects[0]
    tasks = [DayTask(project, d) for d in bench_days(config_path)]
    started = time.perf_counter()
    results = run_many(
        config,
        tasks,
        workspace=FilesWorkspace(workspace),
        workers=workers,
        force=True,
        today=tasks[-1].day + timedelta(days=30),
        executor=executor or ExecutorSettings(),
        compact=compact,
    )
    elapsed = time.perf_counter() - started
    bad = [r.line() for r in results if r.outcome != "ok"]
    if bad:
        raise SystemExit("evmon backfill failed: " + "; ".join(bad[:3]))
    overheads = [(r.duration_s - r.report_s) / r.duration_s for r in results]
    return elapsed, overheads


def executors(config_path: Path, out: Path, days: int, workers: int) -> None:
    """The local executor against a Dask cluster of as many single-threaded workers, the same days."""
    import cloudpickle

    from tests.dask_cluster import dask_cluster

    for name in ("ws_local", "ws_dask", ".ws_local.staging", ".ws_dask.staging"):
        shutil.rmtree(out / name, ignore_errors=True)
    print(f"{days} days of credit_scorecard; evmon's executors, {workers} workers each")
    local_s, _ = with_evmon(config_path, out / "ws_local", workers)
    print(f"local executor ({workers} processes):     {local_s:8.1f} s  {local_s / days:.2f} s/day")
    with dask_cluster(out / "dask", workers=workers) as cluster:
        settings = ExecutorSettings(type="dask", address=cluster.address)
        dask_s, _ = with_evmon(config_path, out / "ws_dask", workers, settings)
    print(f"Dask executor ({workers} worker processes): {dask_s:8.1f} s  {dask_s / days:.2f} s/day")
    extra = (dask_s - local_s) / days
    print(f"cluster path overhead: {extra:+.3f} s a day = {(dask_s - local_s) / local_s:+.1%} of a day  (goal <= 10%)")
    config = load_config(config_path)
    project = config.projects[0]
    sent = len(cloudpickle.dumps((config, project, bench_days(config_path)[0], None)))
    files = list((out / "ws_dask").rglob("snapshots/*.json"))
    back = sum(f.stat().st_size for f in files) / max(len(files), 1)
    print(
        f"bytes moved per day: {sent / 1e3:.1f} kB to the worker (the config), {back / 1e6:.2f} MB back (the snapshot)"
    )


def compaction_cost(config_path: Path, out: Path, days: int, workers: int) -> None:
    """The same backfill without and with the compaction run_many does after it (retention.full_days 7):
    the wall time it adds, and the snapshot bytes the Evidently UI parses at its next start."""
    print(f"{days} days of credit_scorecard; evmon backfill ({workers} workers), then compaction or not")
    seconds, parsed = {}, {}
    for compact in (False, True):
        name = f"ws_compact_{str(compact).lower()}"
        for folder in (name, f".{name}.staging", f".{name}.archive"):
            shutil.rmtree(out / folder, ignore_errors=True)
        seconds[compact], _ = with_evmon(config_path, out / name, workers, compact=compact)
        parsed[compact] = sum(f.stat().st_size for f in (out / name).rglob("snapshots/*.json"))
        label = "with compaction   " if compact else "without compaction"
        print(f"{label}: {seconds[compact]:8.1f} s  snapshot files the UI parses: {parsed[compact] / 1e6:9.1f} MB")
    print(
        f"compaction adds {seconds[True] / seconds[False] - 1:+.1%} to the backfill's time; the UI parses "
        f"{parsed[True] / parsed[False]:.3f}x the bytes ({parsed[False] / parsed[True]:.1f}x fewer)"
    )


def estimation_cost(out: Path, days: int, rows: int, rounds: int) -> None:
    """Estimation's share of a day's run: each day run with and without it, back to back, in this process.

    Paired per day (the order alternating), so a load that drifts over minutes (this VM is shared)
    weighs on both sides alike; and timed directly too: the estimator on the day's rows plus the
    Report part that writes its values, against the day's whole run.
    """
    from evmon.days import labels_arrived
    from evmon.estimation import daily as estimated
    from evmon.evidently.report import estimated_part
    from evmon.run.day import run_day
    from evmon.sources import read as sources

    with_path = prepare(out, days, rows, estimation=True)
    on = load_config(with_path)
    project = on.projects[0]
    assert project.presets.estimation is not None
    off_project = project.model_copy(update={"presets": project.presets.model_copy(update={"estimation": None})})
    reference = sources.read_reference(on, project)
    started = time.perf_counter()
    estimator = estimated.fit(project, estimated.calibration_data(on, project, reference))
    fit_s = time.perf_counter() - started
    days_run = bench_days(with_path)
    today = days_run[-1] + timedelta(days=30)
    workspace = FilesWorkspace(out / "ws_estimation")
    direct_s: list[float] = []
    print(f"{days} days of credit_scorecard at ~{rows} rows/day, segments by region; {rounds} rounds, 1 process")

    def run(estimating: bool, day: date) -> float:
        chosen = project if estimating else off_project
        result = run_day(on, chosen, day, workspace=workspace, today=today, trigger="bench")
        if result.outcome != "ok":
            raise SystemExit(f"a day failed: {result.line()}")
        return result.duration_s

    def direct(day: date) -> None:
        current = sources.read_window(on, project, *day_window_utc(day, project.timezone))
        clock = time.perf_counter()
        labelled = labels_arrived(day, today, project.label_lag_days)
        estimated_part(estimated.estimate_day(project, estimator, current, labelled), snapshot_timestamp(day))
        direct_s.append(time.perf_counter() - clock)

    with_s, without_s = paired_alternating(days_run, rounds, run, direct)
    paired = [w - wo for w, wo in zip(with_s, without_s, strict=True)]
    day_s = statistics.median(with_s)
    print(f"a day without estimation: median {statistics.median(without_s):.3f} s ({len(without_s)} day runs)")
    print(f"a day with estimation:    median {day_s:.3f} s ({len(with_s)} day runs)")
    print(f"ratio with / without:     {day_s / statistics.median(without_s):.3f}")
    print(
        f"estimation's share of a day's run time: paired difference median {statistics.median(paired):+.3f} s "
        f"= {statistics.median(paired) / day_s:+.1%}; timed directly (estimate + its Report part) median "
        f"{statistics.median(direct_s):.3f} s = {statistics.median(direct_s) / day_s:.1%}  (goal <= 10%)"
    )
    print(f"the estimator's fit (once per process, reading the calibration window): {fit_s:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--executor", choices=("naive-vs-local", "dask"), default="naive-vs-local")
    parser.add_argument("--estimation", action="store_true", help="measure estimated quality's share of a day")
    parser.add_argument("--outliers", action="store_true", help="measure the outliers section's share of a day")
    parser.add_argument("--compaction", action="store_true", help="measure what compacting after a backfill costs")
    parser.add_argument("--segments", action="store_true", help="measure the cost of segment values and estimation")
    parser.add_argument("--versus", metavar="COMMIT", help="also run evmon at COMMIT (e.g. c7cae3f), side by side")
    both_help = "measure fairness and outliers together against neither"
    parser.add_argument("--fairness-outliers", action="store_true", help=both_help)
    parser.add_argument("--explanations", action="store_true", help="measure explanations' cost (bench/_explain_cost)")
    rounds_help = "with --estimation/--outliers/--segments/--fairness-outliers/--versus: runs of the days, each way"
    parser.add_argument("--rounds", type=int, default=3, help=rounds_help)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "backfill")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.explanations:
        from bench._explain_cost import explain_cost

        explain_cost(REPO, args.out, args.days, args.rows, args.rounds)
        return
    if args.segments:
        from bench._segment_cost import segment_cost

        segment_cost(prepare(args.out, args.days, args.rows, estimation=True), args.out, args.rounds)
        return
    if args.estimation:
        estimation_cost(args.out, args.days, args.rows, args.rounds)
        return
    if args.fairness_outliers or args.outliers:
        from bench._bias_cost import fairness_outliers_cost, outliers_cost

        config_path = prepare(args.out, args.days, args.rows, estimation=True)
        cost = fairness_outliers_cost if args.fairness_outliers else outliers_cost
        cost(args.out, config_path, bench_days(config_path), args.rows, args.rounds)
        return
    config_path = prepare(args.out, args.days, args.rows)
    if args.executor == "dask":
        executors(config_path, args.out, args.days, args.workers)
        return
    if args.compaction:
        compaction_cost(config_path, args.out, args.days, args.workers)
        return
    if args.versus:
        from bench._versus import versus

        versus(config_path, args.out, args.versus, args.days, args.workers, args.rounds, naive)
        return
    for name in ("ws_naive", "ws_evmon", ".ws_evmon.staging"):
        shutil.rmtree(args.out / name, ignore_errors=True)
    print(f"{args.days} days of credit_scorecard at ~{args.rows} rows/day; drift + summary + classification")
    naive_s = naive(config_path, args.out / "ws_naive")
    print(f"naive loop (1 process):            {naive_s:8.1f} s  {naive_s / args.days:.2f} s/day")
    evmon_s, overheads = with_evmon(config_path, args.out / "ws_evmon", args.workers)
    print(f"evmon backfill ({args.workers} workers):          {evmon_s:8.1f} s  {evmon_s / args.days:.2f} s/day")
    print(f"speed-up evmon vs naive:           {naive_s / evmon_s:8.2f}x  (goal >= 1.8x)")
    print(
        f"evmon overhead outside Report.run: median {statistics.median(overheads):.1%}, "
        f"p95 {sorted(overheads)[int(0.95 * (len(overheads) - 1))]:.1%}  (goal <= 10%)"
    )


if __name__ == "__main__":
    main()
