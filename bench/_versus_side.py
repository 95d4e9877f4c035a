"""One side of `bench/backfill.py --versus`: run in a subprocess whose PYTHONPATH picks the evmon.

    python bench/_versus_side.py backfill CONFIG WORKSPACE WORKERS
    python bench/_versus_side.py profile CONFIG
    python bench/_versus_side.py functions CONFIG
    python bench/_versus_side.py nights CONFIG WORKSPACE COUNT warm|cold

backfill: evmon's run_many over every day of the bench config (as bench/backfill.py's with_evmon),
prints {"wall": seconds, "cpu": CPU seconds of it and its worker processes, "evmon": where evmon was
imported from} as JSON.
profile: the config's second day computed in this process after its first (the reference's
once-per-process work done), its stack sampled (bench/_day_profile.py): prints {"wall", "shares",
"cold": the first day's seconds}.
functions: the same day, its time per function and on whose rows (bench/_day_functions.py): prints
the table, then {"wall", "reference_rows", "current_rows"}.
nights: COUNT nights of the scheduler, each a run_many of one day (as a fire runs the night's day);
warm: sharing a DayProcessPool (each night after the first in the first one's process); cold: a new
process each night (evmon before the pool); prints {"walls": per night}.
Only run_many, compute_snapshot and their arguments are used: the same calls at the commit before
the speed-up (c7cae3f) and after it.
"""

from __future__ import annotations

import importlib.util
import json
import resource
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _bench_days(config_path: Path) -> list[date]:
    sys.path.insert(0, str(HERE))  # bench/_days.py beside this file; evmon from this process's PYTHONPATH
    from _days import bench_days

    return bench_days(config_path)


def backfill(config_path: Path, workspace: Path, workers: int) -> dict[str, object]:
    import evmon
    from evmon.config.loader import load_config
    from evmon.config.sections import ExecutorSettings
    from evmon.run.batch import DayTask
    from evmon.run.many import run_many
    from evmon.storage.files import FilesWorkspace

    config = load_config(config_path)
    project = config.projects[0]
    tasks = [DayTask(project, d) for d in _bench_days(config_path)]
    cpu = _cpu_s()
    started = time.perf_counter()
    results = run_many(
        config,
        tasks,
        workspace=FilesWorkspace(workspace),
        workers=workers,
        force=True,
        today=tasks[-1].day + timedelta(days=30),
        executor=ExecutorSettings(),
        compact=False,
    )
    wall = time.perf_counter() - started
    cpu = _cpu_s() - cpu
    bad = [r.line() for r in results if r.outcome != "ok"]
    if bad:
        raise SystemExit("evmon backfill failed: " + "; ".join(bad[:3]))
    return {"wall": wall, "cpu": cpu, "evmon": str(Path(evmon.__file__).parent)}


def nights(config_path: Path, workspace: Path, count: int, warm: bool) -> dict[str, object]:
    """`count` nights of the scheduler: each a run_many of the next day alone, as a fire runs it; walls per night.

    warm: the fires share a DayProcessPool (evmon.run.executors.pool: the scheduler's since it exists), so
    each night after the first reuses the first night's process; else each night starts its own.
    """
    from evmon.config.loader import load_config
    from evmon.config.sections import ExecutorSettings
    from evmon.run.batch import DayTask
    from evmon.run.many import run_many
    from evmon.storage.files import FilesWorkspace

    config = load_config(config_path)
    project = config.projects[0]
    days = _bench_days(config_path)[:count]
    pool: Any = None
    if warm:
        from evmon.run.executors.pool import DayProcessPool

        pool = DayProcessPool(1)
    walls = []
    try:
        for day in days:
            started = time.perf_counter()
            (result,) = run_many(
                config,
                [DayTask(project, day)],
                workspace=FilesWorkspace(workspace),
                workers=1,
                force=True,
                today=days[-1] + timedelta(days=30),
                executor=ExecutorSettings(),
                compact=False,
                **({"pool": pool} if warm else {}),
            )
            walls.append(time.perf_counter() - started)
            if result.outcome != "ok":
                raise SystemExit(f"night {day} failed: {result.line()}")
    finally:
        if pool is not None:
            pool.close()
    return {"walls": walls}


def _cpu_s() -> float:
    """CPU seconds of this process and of its ended (waited for) children: the worker processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _module(name: str) -> Any:
    """A bench helper module of this folder, whichever evmon PYTHONPATH picks."""
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _warm_day(config_path: Path) -> tuple[Callable[[], bytes], int, int, float]:
    """The config's second day as a call (its first day computed: the caches warm), reference and day rows,
    and the first day's seconds (cold: the reference's side computed too, as each night's one day of a project
    in a process of its own)."""
    from evmon.config.loader import load_config
    from evmon.days import day_window_utc, snapshot_timestamp
    from evmon.evidently.report import compute_snapshot, snapshot_bytes
    from evmon.run.day import reference_frame
    from evmon.sources import read as sources

    config = load_config(config_path)
    project = config.projects[0]

    def day(when: date) -> bytes:
        current = sources.read_window(config, project, *day_window_utc(when, project.timezone))
        model = compute_snapshot(
            project,
            current,
            reference_frame(config, project),
            timestamp=snapshot_timestamp(when),
            with_quality=True,
            metadata={},
            tags=[],
            name="profile",
            reuse_reference=True,
        )
        return snapshot_bytes(model)

    first, second = _bench_days(config_path)[:2]
    started = time.perf_counter()
    day(first)
    cold = time.perf_counter() - started
    rows = len(sources.read_window(config, project, *day_window_utc(second, project.timezone)))
    return (lambda: day(second)), len(reference_frame(config, project)), rows, cold


def profile(config_path: Path) -> dict[str, object]:
    sampler = _module("_day_profile")
    day, _, _, cold = _warm_day(config_path)
    started = time.perf_counter()
    _, samples = sampler.sampled(day)
    return {"wall": time.perf_counter() - started, "shares": sampler.shares(samples), "cold": cold}


def functions(config_path: Path) -> dict[str, object]:
    """The warm day's time per function and side (bench/_day_functions.py), as a printed table."""
    sampler = _module("_day_functions")
    day, reference_rows, current_rows, _ = _warm_day(config_path)
    started = time.perf_counter()
    _, by_function, by_side = sampler.sampled(day, reference_rows, current_rows)
    wall = time.perf_counter() - started
    print(f"one warm day: {wall:.2f} s; reference {reference_rows} rows, the day {current_rows} rows")
    print(sampler.table(by_function, by_side))
    return {"wall": wall, "reference_rows": reference_rows, "current_rows": current_rows}


def main() -> None:
    mode, config = sys.argv[1], Path(sys.argv[2])
    if mode == "backfill":
        out = backfill(config, Path(sys.argv[3]), int(sys.argv[4]))
    elif mode == "nights":
        out = nights(config, Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "warm")
    else:
        out = functions(config) if mode == "functions" else profile(config)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
