"""The commands on a config and its workspace: `evmon validate`, `compact`, `migrate-ui`, `grafana-dashboards`."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from evmon.cli.options import (
    DAY,
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    config_option,
    handle_errors,
    load_config_file,
)


@click.command()
@config_option
@handle_errors
def validate(config_path: Path) -> None:
    """Check projects.yaml and the schemas of the files (or query) it points at; exit 2 on any problem."""
    from evmon.sources.validate import check_sources, check_warnings

    config = load_config_file(config_path)
    for warning in check_warnings(config):  # said, never failing: e.g. an estimator fitted on the training data
        click.echo(f"Warning: {warning}", err=True)
    problems = check_sources(config)
    if problems:
        for problem in problems:
            click.echo(f"Error: {problem}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    names = ", ".join(p.name for p in config.projects)
    click.echo(f"{config_path}: OK, {len(config.projects)} projects ({names})")


@click.command()
@config_option
@click.argument("project", required=False)
@click.option("--today", type=DAY, default=None, help="Pretend today is this day (decides what is old enough).")
@click.option("--refresh", is_flag=True, help="Re-derive compacted snapshots from their archived originals.")
@handle_errors
def compact(config_path: Path, project: str | None, today: date | None, refresh: bool) -> None:
    """Compact daily snapshots older than retention.full_days (all projects, or PROJECT).

    The full originals are archived beside the workspace; the UI keeps every dashboard value.
    """
    from evmon.storage.compaction import compact_all, compact_project
    from evmon.storage.registry import workspace_for

    config = load_config_file(config_path)
    workspace = workspace_for(config)
    workspace.prepare()
    if project is not None:
        results = [compact_project(config, config.project(project), workspace, today, refresh)]
    else:
        results = compact_all(config, workspace, today, refresh)
    for result in results:
        click.echo(result.line())
    if any(r.failed for r in results):
        sys.exit(EXIT_FAILED)


@click.command("migrate-ui")
@config_option
@click.option(
    "--to",
    "target",
    type=click.Choice(["postgres", "files"]),
    required=True,
    help="Where the UI's snapshots and dashboards go: the UI's database, or the workspace folder's files.",
)
@click.option("--dsn", default=None, help="The UI's database (default: ui.dsn, EVMON_UI_DSN, or the bridge's server).")
@handle_errors
def migrate_ui(config_path: Path, target: str, dsn: str | None) -> None:
    """Copy every project, dashboard and snapshot between the file workspace and the UI's database.

    Each snapshot is read back from the target and compared value by value; nothing is deleted
    from the source. Then set `ui: {storage: ...}` in projects.yaml to the target.
    """
    from evmon.storage.migration import copy_workspace
    from evmon.storage.registry import workspace_for

    config = load_config_file(config_path)
    files, database = workspace_for(config, "files"), workspace_for(config, "postgres", dsn)
    source, goal = (files, database) if target == "postgres" else (database, files)
    click.echo(f"copying the UI's snapshots from {source.describe()} to {goal.describe()}")
    result = copy_workspace(source, goal, progress=click.echo)
    for problem in result.problems:
        click.echo(f"Error: {problem}", err=True)
    click.echo(f"migrate-ui: {result.line()}")
    if result.problems:
        sys.exit(EXIT_FAILED)


@click.command("grafana-dashboards")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a file differs from the generator (for CI).")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The dashboards' folder [default: ./grafana/dashboards, run in the root of an evmon checkout].",
)
@handle_errors
def grafana_dashboards(check: bool, folder: Path | None) -> None:
    """Write grafana/dashboards/*.json from their Python source (evmon.grafana), or --check them."""
    from evmon.grafana import generate

    if folder is None:
        folder = generate.DEFAULT_DIR
        if not folder.is_dir():
            raise click.UsageError(f"no {folder} here: run it in the root of an evmon checkout, or pass --dir")
    if check:
        stale = generate.check(folder)
        for name in stale:
            click.echo(generate.explain(folder, name))
        if stale:
            sys.exit(EXIT_FAILED)
        click.echo(f"{folder}: OK, {len(generate.DASHBOARDS)} dashboards as the generator writes them")
        return
    for path in generate.write(folder):
        click.echo(f"wrote {path}")


COMMANDS = (
    validate,
    compact,
    migrate_ui,
    grafana_dashboards,
)
