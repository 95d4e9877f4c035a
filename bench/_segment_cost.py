"""What segments cost a day: `bench/backfill.py --segments` (see there).

The demo credit data gets two more categorical columns, `segment_1` (one value) and `segment_3`
(the regions north, south, and east and west as one), in every project of the bench, so the
Reports' data part is the same in all five; each project differs from the baseline only in its
`segments` and `presets.estimation`. Each project has a name of its own, so each keeps its own
per-process caches (reference, its Datasets, the estimator) as a project of a real config does.
Every day is run once per project back to back, the order rotating, so a load that drifts over
minutes (this VM is shared) weighs on all five alike; the first day of each is run once before
(the per-process caches filled) and not counted.
"""

from __future__ import annotations

import statistics
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import yaml

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig, Project
from evmon.run.day import DayResult, run_day
from evmon.storage.files import FilesWorkspace

# (name, segments, estimation on)
VARIANTS = (
    ("no segments", [], False),
    ("1 segment value", ["segment_1"], False),
    ("3 segment values", ["segment_3"], False),
    ("estimation, no segments", [], True),
    ("3 segment values + estimation", ["segment_3"], True),
)
THREE = {"north": "north", "south": "south", "east": "east_west", "west": "east_west"}


def with_segment_columns(config_path: Path, out: Path) -> Path:
    """A copy of the bench config whose data has the columns segment_1 and segment_3 (written once)."""
    raw = yaml.safe_load(config_path.read_text())
    credit = raw["projects"][0]
    daily = Path(credit["source"]["path"]).parent
    target = out / f"{daily.parent.parent.name}_segments" / "daily"
    target.mkdir(parents=True, exist_ok=True)
    for file in sorted(daily.glob("*.parquet")):
        if not (target / file.name).exists():
            frame = pd.read_parquet(file)
            frame["segment_1"] = "all"
            frame["segment_3"] = frame["region"].map(THREE)
            frame.to_parquet(target / f"{file.name}.tmp", index=False)
            (target / f"{file.name}.tmp").replace(target / file.name)
    credit["source"]["path"] = str(target / "*.parquet")
    credit["columns"]["categorical"] = [*credit["columns"]["categorical"], "segment_1", "segment_3"]
    path = config_path.with_name(f"{config_path.stem}_segments.yaml")
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _variant(project: Project, index: int, segments: list[str], estimation: bool) -> Project:
    presets = project.presets if estimation else project.presets.model_copy(update={"estimation": None})
    return project.model_copy(update={"name": f"credit_v{index}", "segments": segments, "presets": presets})


def segment_cost(config_path: Path, out: Path, rounds: int) -> None:
    """Run every bench day as each of the five projects, back to back; print their costs."""
    from bench._days import bench_days

    path = with_segment_columns(config_path, out)
    config = load_config(path)
    credit = config.projects[0]
    projects = [_variant(credit, i, segments, on) for i, (_, segments, on) in enumerate(VARIANTS)]
    days = bench_days(config_path)
    today = days[-1] + timedelta(days=30)  # every day labelled: quality and its segments computed
    workspace = FilesWorkspace(out / "ws_segments")
    wall: list[list[float]] = [[] for _ in VARIANTS]
    cpu: list[list[float]] = [[] for _ in VARIANTS]
    rows = 0
    for project in projects:  # the per-process caches filled: not counted
        _ran(config, project, days[0], workspace, today)
    for round_ in range(rounds):
        for i, day in enumerate(days[1:]):
            shift = i + round_
            for k in [*range(shift % len(VARIANTS), len(VARIANTS)), *range(shift % len(VARIANTS))]:
                clock = time.process_time()
                result = _ran(config, projects[k], day, workspace, today)
                cpu[k].append(time.process_time() - clock)
                wall[k].append(result.duration_s)
                rows = result.rows or rows
    runs = len(wall[0])
    print(f"{len(days) - 1} days of credit_scorecard, ~{rows} rows a day, {rounds} rounds ({runs} runs each)")
    base_wall, base_cpu = statistics.median(wall[0]), statistics.median(cpu[0])
    medians = []
    for (name, _, _), w, c in zip(VARIANTS, wall, cpu, strict=True):
        mw, mc = statistics.median(w), statistics.median(c)
        medians.append(mc)
        print(f"{name:31s} {mw:7.3f} s/day wall ({mw / base_wall:5.2f}x)  {mc:7.3f} s/day CPU ({mc / base_cpu:5.2f}x)")
    none, one, three, estimating, both = medians
    print(
        f"one segment value (CPU): {one - none:+.3f} s a day = {(one - none) / none:+.1%} of the baseline (1 value); "
        f"{(three - none) / 3:+.3f} s = {(three - none) / 3 / none:+.1%} each (3 values)"
    )
    print(
        f"estimation per segment value (CPU): {((both - three) - (estimating - none)) / 3:+.3f} s a day; "
        f"estimation model-wide {estimating - none:+.3f} s"
    )


def _ran(config: EvmonConfig, project: Project, day: date, workspace: FilesWorkspace, today: date) -> DayResult:
    result = run_day(config, project, day, workspace=workspace, today=today, trigger="bench")
    if result.outcome != "ok":
        raise SystemExit(f"a day failed: {result.line()}")
    return result
