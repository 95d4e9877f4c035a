"""What explanations cost a day: `bench/backfill.py --explanations` (see there).

Both demo projects at about --rows rows a day (their own data, generated once), as projects.yaml configures
them but for fairness and outliers (left out on both sides): each project without `model:` and a copy of it
with (its own name: its own caches, the model file and the reference's attributions, as a second project
would have). Each day is run without and with back to back, which goes first alternating, after one untimed
day of each (the per-process work: the reference's attributions, shap's imports); the ratio of the medians and
the median paired ratio per project (goal <= 1.25). Then the model-agnostic path: the credit model with
`explainer: permutation` (its default time bound, model.max_seconds 60 s), one day's explanations timed alone,
with the sampled rows it reached.
"""

from __future__ import annotations

import statistics
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench._timing import paired_alternating
from evmon.config.loader import load_config
from evmon.config.model import Project
from evmon.days import day_range, day_window_utc
from evmon.demo.data import CREDIT_LIVE, REFERENCE_END, ensure_demo_data
from evmon.run.day import reference_frame, run_day
from evmon.sources.read import located, read_window
from evmon.storage.files import FilesWorkspace


def _config(repo: Path, out: Path, days: int, rows: int) -> Path:
    end = REFERENCE_END + timedelta(days=max(days, 21))
    data = out / f"data_explain_{days}d_{rows}r"
    ensure_demo_data(data, end=end, credit_rows=rows, taxi_rows=rows)
    raw = yaml.safe_load((repo / "projects.yaml").read_text())
    raw["projects"] = [p for p in raw["projects"] if p["name"] != CREDIT_LIVE]  # no data: it reads a service's rows
    for project in raw["projects"]:
        project.pop("fairness", None)
        project.pop("outliers", None)
        for section in ("source", "reference", "model"):
            if "path" in project.get(section, {}):
                project[section]["path"] = str(data / project[section]["path"].removeprefix("demo_data/"))
    path = out / f"bench_explain_{days}d_{rows}r.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def explain_cost(repo: Path, out: Path, days: int, rows: int, rounds: int) -> None:
    config = load_config(_config(repo, out, days, rows))
    first = REFERENCE_END + timedelta(days=1)
    bench_days = list(day_range(first, first + timedelta(days=days - 1)))
    today = bench_days[-1] + timedelta(days=30)  # every day labelled
    workspace = FilesWorkspace(out / "ws_explain")
    print(f"{days} days at ~{rows} rows/day, as projects.yaml (no fairness, no outliers); {rounds} rounds, 1 process")

    def day_s(project: Project, day: date) -> float:
        result = run_day(config, project, day, workspace=workspace, today=today, trigger="bench")
        if result.outcome != "ok":
            raise SystemExit(f"a day failed: {result.line()}")
        return result.duration_s

    for on in config.projects:
        assert on.model is not None
        off = on.model_copy(update={"model": None, "name": f"{on.name}_plain"})
        warm_off, warm_on = day_s(off, bench_days[0]), day_s(on, bench_days[0])
        with_s, without_s = paired_alternating(
            bench_days, rounds, lambda explaining, day, on=on, off=off: day_s(on if explaining else off, day)
        )
        ratios = [w / wo for w, wo in zip(with_s, without_s, strict=True)]
        base, explained = statistics.median(without_s), statistics.median(with_s)
        print(
            f"{on.name} ({on.model.explainer}, sample {on.model.sample_rows} rows): "
            f"first day (untimed) without {warm_off:.2f} s, with {warm_on:.2f} s"
        )
        print(f"  a day without: median {base:.3f} s; with: median {explained:.3f} s ({len(with_s)} runs each)")
        print(
            f"  ratio with / without: of the medians {explained / base:.3f}; paired per day: median "
            f"{statistics.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}  (goal <= 1.25)"
        )
    _permutation(config, bench_days[1])


def _permutation(config: Any, day: date) -> None:
    """The model-agnostic explainer on the credit model: one day's explanations, timed alone."""
    from evmon.explain.daily import day_explanations

    credit = config.projects[0]
    settings = credit.model.model_copy(update={"explainer": "permutation"})
    project = credit.model_copy(update={"model": settings, "name": f"{credit.name}_permutation"})
    reference = reference_frame(config, credit)
    current = read_window(config, credit, *day_window_utc(day, credit.timezone))
    path = located(config, settings.path)
    clock = time.perf_counter()
    day_explanations(project, path, current, reference)  # the reference's attributions too (once per process)
    first_s = time.perf_counter() - clock
    clock = time.perf_counter()
    explained = day_explanations(project, path, current, reference)
    day_only = time.perf_counter() - clock
    print(
        f"{credit.name} with explainer permutation (background {settings.background_rows} rows, bound "
        f"{settings.max_seconds:g} s): first call (reference and day) {first_s:.1f} s; a day alone {day_only:.1f} s, "
        f"{explained.rows} of {min(len(current), settings.sample_rows)} sampled rows reached"
    )
