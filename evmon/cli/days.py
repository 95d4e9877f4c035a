"""`evmon run` and `evmon backfill`: project-days computed and stored, one line each."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from evmon.cli.options import (
    DAY,
    EXIT_BUSY,
    EXIT_FAILED,
    config_option,
    executor_option,
    handle_errors,
    load_config_file,
)

if TYPE_CHECKING:
    from evmon.storage.compaction import CompactionResult


@click.command()
@config_option
@click.argument("project")
@click.option("--day", type=DAY, required=True, help="The day to compute (in the project's timezone).")
@click.option("--today", type=DAY, default=None, help="Pretend today is this day (decides which labels arrived).")
@executor_option
@handle_errors
def run(config_path: Path, project: str, day: date, today: date | None, executor: Any) -> None:
    """Compute one project-day and write (or replace) its snapshot; exit 3 if another process runs it."""
    from evmon.run.batch import DayTask
    from evmon.run.many import run_many
    from evmon.storage.registry import workspace_for

    config = load_config_file(config_path)
    chosen = config.project(project)
    compactions: list[CompactionResult] = []
    (result,) = run_many(
        config,
        [DayTask(chosen, day)],
        workspace=workspace_for(config),
        workers=1,
        force=True,
        today=today,
        trigger="cli",
        executor=executor,
        compacted=compactions.append,
    )
    click.echo(result.line())
    _echo_compactions(compactions)
    sys.exit(_exit_code([result]))


@click.command()
@config_option
@click.argument("project")
@click.option("--start", type=DAY, required=True, help="First day (inclusive).")
@click.option("--end", type=DAY, required=True, help="Last day (inclusive).")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True, help="Worker processes.")
@click.option("--force", is_flag=True, help="Recompute days that already have a snapshot.")
@click.option("--today", type=DAY, default=None, help="Pretend today is this day (decides which labels arrived).")
@executor_option
@handle_errors
def backfill(
    config_path: Path,
    project: str,
    start: date,
    end: date,
    workers: int,
    force: bool,
    today: date | None,
    executor: Any,
) -> None:
    """Compute every day from --start to --end; days already done are skipped unless --force.

    Then the project's days older than retention.full_days are compacted, as the scheduler does.
    """
    from evmon.days import day_range
    from evmon.run.batch import DayTask, summarize
    from evmon.run.many import run_many
    from evmon.storage.registry import workspace_for

    if end < start:
        raise click.BadParameter(f"--end {end} is before --start {start}", param_hint="--end")
    config = load_config_file(config_path)
    chosen = config.project(project)
    tasks = [DayTask(chosen, day) for day in day_range(start, end)]
    compactions: list[CompactionResult] = []
    results = _with_progress(
        len(tasks),
        lambda progress: run_many(
            config,
            tasks,
            workspace=workspace_for(config),
            workers=workers,
            force=force,
            today=today,
            progress=progress,
            executor=executor,
            compacted=compactions.append,
        ),
    )
    for result in results:  # what needs a look: failed and busy days, and runs the run log could not take
        if result.failed or result.outcome == "busy" or result.unlogged:
            click.echo(result.line())
    click.echo(f"{chosen.name}: {summarize(results)}")
    _echo_compactions(compactions)
    sys.exit(_exit_code(results))


def _echo_compactions(results: list[CompactionResult]) -> None:
    """The compaction that followed the days (retention.full_days), when it did or failed something."""
    for result in results:
        if result.compacted or result.failed:
            click.echo(result.line())


def _exit_code(results: list[Any]) -> int:
    """1 if a day failed, else 3 if a day was busy in another process, else 0."""
    if any(r.failed for r in results):
        return EXIT_FAILED
    return EXIT_BUSY if any(r.outcome == "busy" for r in results) else 0


def _with_progress(total: int, job: Callable[[Callable[[Any], None]], Any]) -> Any:
    """Run `job` with its progress on stderr: a bar on a terminal, else a line per day it computed.

    Without a terminal (output redirected to a file, a CI log, `nohup`), a bar is never drawn, so
    each finished day prints one line as it ends; days already there only count.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        finished = 0

        def line(result: Any) -> None:
            nonlocal finished
            finished += 1
            if result.outcome != "exists":
                click.echo(f"[{finished}/{total}] {result.line()}", err=True)

        return job(line)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as bar:
        task_id = bar.add_task("days", total=total)

        def advance(result: Any) -> None:
            bar.update(task_id, advance=1, description=f"{result.project} {result.day}")

        return job(advance)


COMMANDS = (
    run,
    backfill,
)
