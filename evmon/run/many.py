"""Many project-days at once, on the configured executor: progress callbacks, resumable, stoppable.

Resumable by construction: a day whose snapshot exists is skipped unless force=True, and a
day's snapshot appears only complete (atomic write), so a killed backfill re-run does exactly
the days that are missing. Where the days are computed is the executor's business (local worker
processes or a Dask cluster: evmon.run.executors). After the days, each project that got a new
snapshot has its UI dashboard rewritten (segment panels appear once labelled days exist); then
each project whose days are there (new or already) is compacted by the rule the scheduler applies
(evmon.storage.compaction: days older than retention.full_days), so that a backfill of a year, a
re-run from the app or a demo never leaves the UI to parse a year of full snapshots at start. Here,
not in each command: every caller of run_many gets it; the scheduler, which compacts after every
fire (also those without new days), passes compact=False. A stopped run is not compacted (the
re-run that resumes it is, its days being there).

Each day fails or succeeds on its own: a workspace that cannot be prepared (the UI's database
unreachable) fails every day with its reason, one that goes away mid-way fails the days that
meet it, each logged in the run log (where the run log can be written), and a re-run does them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import date

from evmon.config.model import EvmonConfig, Project
from evmon.config.sections import ExecutorSettings
from evmon.errors import EvmonError, RunLogError
from evmon.run.batch import Batch, DayTask, Progress
from evmon.run.day import DayResult, failed_day, recover_unlogged_run
from evmon.run.executors.pool import DayProcessPool
from evmon.run.executors.registry import executor_for
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.base import Workspace
from evmon.storage.compaction import CompactionResult, compact_project
from evmon.storage.dashboards import write_project_dashboard
from evmon.storage.runlog import RunLog

log = logging.getLogger(__name__)
Compacted = Callable[[CompactionResult], None]


def _log_compaction(result: CompactionResult) -> None:
    if result.compacted or result.failed:
        log.log(logging.WARNING if result.failed else logging.INFO, "%s", result.line())


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
    stop: threading.Event | None = None,
    dashboards: bool = True,
    executor: ExecutorSettings | None = None,
    compact: bool = True,
    compacted: Compacted = _log_compaction,
    pool: DayProcessPool | None = None,
) -> list[DayResult]:
    """Run every task (in day order per project); results in task order.

    Where the days are computed: `executor` (default: projects.yaml's `executor`): on `workers`
    local processes, or on a Dask cluster, whose workers compute while this process writes.
    Setting `stop` (or Ctrl-C in the calling thread) ends the run early: days in progress are
    abandoned (nothing partial is ever written), Interrupted carries the results so far.
    After the days, unless `compact` is False, each project with its days there is compacted
    (today: `today`, else the project's own); `compacted` gets each project's CompactionResult.
    A long-lived caller (the scheduler) passes its `pool`: the local processes are kept warm between
    its runs (evmon.run.executors.pool).
    """
    chosen = config.executor.overridden_by(executor)  # --executor's type and address, projects.yaml's rest
    ordered = list(tasks)
    results: dict[int, DayResult] = {}
    batch = Batch(config, workspace, force, today, trigger, started_by, progress, results)
    try:
        workspace.prepare()
    except EvmonError as exc:  # no day can run: each fails with the reason, and is logged
        for index, task in enumerate(ordered):
            batch.record(index, failed_day(workspace, task.project, task.day, str(exc), trigger, started_by))
        return [results[i] for i in range(len(ordered))]
    workspace.clean_staging()
    with contextlib.suppress(RunLogError):  # a full disk: each day's line says its run was not recorded
        RunLog(workspace.evmon_dir).ensure()
    todo: list[tuple[int, DayTask]] = []
    for index, task in enumerate(ordered):
        sid = daily_snapshot_id(task.project.name, task.day)
        try:
            exists = not force and workspace.snapshot_exists(project_id(task.project.name), sid)
            unlogged = recover_unlogged_run(workspace, task.project, task.day) if exists else None
        except EvmonError as exc:  # the workspace cannot be read now (its database went away)
            batch.record(index, failed_day(workspace, task.project, task.day, str(exc), trigger, started_by))
            continue
        if exists:
            batch.record(
                index, DayResult(task.project.name, task.day, "exists", snapshot_id=str(sid), unlogged=unlogged)
            )
        else:
            todo.append((index, task))
    projects = {task.project.name: task.project for task in ordered}
    try:
        if todo:
            executor_for(chosen, workers, pool).run(batch, todo, stop, len(ordered))
    finally:
        if dashboards:
            _refresh_dashboards(workspace, batch.done(), projects)
    done = [results[i] for i in range(len(ordered))]
    if compact:
        _compact(config, workspace, done, projects, today, compacted)
    return done


def _refresh_dashboards(workspace: Workspace, results: list[DayResult], projects: dict[str, Project]) -> None:
    """Rewrite the UI dashboard of each project that got a snapshot (new segment values show up)."""
    for name in sorted({r.project for r in results if r.outcome == "ok"}):
        with contextlib.suppress(EvmonError):  # a dashboard is a view: never fail the days for it
            write_project_dashboard(workspace, projects[name])


def _compact(
    config: EvmonConfig,
    workspace: Workspace,
    results: list[DayResult],
    projects: dict[str, Project],
    today: date | None,
    compacted: Compacted,
) -> None:
    """Compact each project that has a day of the run in the workspace (after its dashboard: the kept metrics)."""
    for name in sorted({r.project for r in results if r.outcome in ("ok", "exists")}):
        try:
            result = compact_project(config, projects[name], workspace, today)
        except EvmonError as exc:  # the workspace went away: the days stand, the next run compacts
            result = CompactionResult(name, failed=(f"not compacted: {exc}",))
        compacted(result)
