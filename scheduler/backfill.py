"""Many project-days at once: worker processes, progress callbacks, resumable.

Resumable by construction: a day whose snapshot exists is skipped unless force=True, and a
day's snapshot appears only complete (atomic rename), so a killed backfill re-run does
exactly the days that are missing.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import date

from evmon.config import EvmonConfig, Project
from evmon.workspace import Workspace, daily_snapshot_id, project_id
from scheduler.runner import DayResult, run_day

Progress = Callable[[DayResult], None]


@dataclass(frozen=True)
class DayTask:
    """One project-day to run."""

    project: Project
    day: date


def run_many(
    config: EvmonConfig,
    tasks: Iterable[DayTask],
    *,
    workspace: Workspace,
    workers: int = 2,
    force: bool = False,
    today: date | None = None,
    trigger: str = "backfill",
    progress: Progress | None = None,
    started_by: str | None = None,
) -> list[DayResult]:
    """Run every task (in day order per project) on `workers` processes; results in task order."""
    workspace.prepare()
    workspace.clean_staging()
    todo: list[DayTask] = []
    results: dict[int, DayResult] = {}
    ordered = list(tasks)
    for index, task in enumerate(ordered):
        sid = daily_snapshot_id(task.project.name, task.day)
        if not force and workspace.snapshot_exists(project_id(task.project.name), sid):
            results[index] = DayResult(task.project.name, task.day, "exists", snapshot_id=str(sid))
            _report(progress, results[index])
        else:
            todo.append(task)
    index_of = {id(task): i for i, task in enumerate(ordered)}
    if workers <= 1 or len(todo) <= 1:
        for task in todo:
            result = run_day(
                config,
                task.project,
                task.day,
                workspace=workspace,
                today=today,
                force=force,
                trigger=trigger,
                started_by=started_by,
            )
            results[index_of[id(task)]] = result
            _report(progress, result)
    else:
        _run_pool(config, todo, workspace, workers, force, today, trigger, started_by, progress, results, index_of)
    return [results[i] for i in range(len(ordered))]


def _run_pool(
    config: EvmonConfig,
    todo: list[DayTask],
    workspace: Workspace,
    workers: int,
    force: bool,
    today: date | None,
    trigger: str,
    started_by: str | None,
    progress: Progress | None,
    results: dict[int, DayResult],
    index_of: dict[int, int],
) -> None:
    # forkserver with Evidently preloaded: workers start fast and from a clean,
    # single-threaded parent (a plain fork of a process running Arrow threads can hang)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["scheduler.runner"])
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=context) as pool:
        pending: dict[Future[DayResult], DayTask] = {}
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < workers * 2:
                task = queue.pop(0)
                future = pool.submit(
                    run_day,
                    config,
                    task.project,
                    task.day,
                    workspace=workspace,
                    today=today,
                    force=force,
                    trigger=trigger,
                    started_by=started_by,
                )
                pending[future] = task
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task = pending.pop(future)
                result = future.result()
                results[index_of[id(task)]] = result
                _report(progress, result)


def _report(progress: Progress | None, result: DayResult) -> None:
    if progress is not None:
        progress(result)


def summarize(results: list[DayResult]) -> str:
    """'7 days: 5 ok, 2 already there, 0 skipped (no rows), 0 failed'."""
    counts = {
        kind: sum(1 for r in results if r.outcome == kind) for kind in ("ok", "exists", "skipped", "busy", "failed")
    }
    parts = [f"{counts['ok']} ok", f"{counts['exists']} already there", f"{counts['skipped']} skipped (no rows)"]
    if counts["busy"]:
        parts.append(f"{counts['busy']} busy elsewhere")
    parts.append(f"{counts['failed']} failed")
    return f"{len(results)} days: " + ", ".join(parts)
