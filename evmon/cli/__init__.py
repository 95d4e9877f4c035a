"""The `evmon` command: thin, every command calls the library and maps its errors.

Exit codes: 0 success; 1 a project-day (or another unit of work) failed; 2 bad input
(usage, projects.yaml, an unknown project); 3 busy: another process was running the
project-day, nothing was done (run it again later); 130 stopped with Ctrl-C. Messages go to
stderr as ``Error: ...``.

``-c/--config`` is accepted before the command (``evmon -c my.yaml validate``, as in
``docker compose -f``) and after it; after it wins.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

import evmon
from evmon.errors import ConfigError, EvmonError, UnknownProjectError
from evmon.logs import LEVELS
from evmon.logs import setup as setup_logging

if TYPE_CHECKING:
    from evmon.storage.files import Workspace

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_BUSY = 3
EXIT_INTERRUPTED = 130
DEFAULT_CONFIG = Path("projects.yaml")
F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn library exceptions into one message and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            _fail(str(exc), EXIT_BAD_INPUT)
        except UnknownProjectError as exc:
            _fail(str(exc), EXIT_BAD_INPUT)
        except EvmonError as exc:
            _fail(str(exc), EXIT_FAILED)

    return wrapper  # type: ignore[return-value]


class DayParam(click.ParamType):
    """A YYYY-MM-DD date."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date; expected YYYY-MM-DD", param, ctx)


DAY = DayParam()
_CONFIG_TYPE = click.Path(path_type=Path, dir_okay=False)


class ExecutorParam(click.ParamType):
    """local, or dask://HOST:PORT (a Dask scheduler)."""

    name = "local|dask://HOST:PORT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from evmon.config.sections import ExecutorSettings, executor_from_option

        if isinstance(value, ExecutorSettings) or value is None:
            return value
        if str(value).strip() == "":  # EVMON_EXECUTOR set but empty: projects.yaml's executor
            return None
        try:
            return executor_from_option(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


metrics_port_option = click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve Prometheus /metrics on this port [default: projects.yaml metrics.<service>_port, else off].",
)
metrics_host_option = click.option(
    "--metrics-host",
    default=None,
    help="The address /metrics binds [default: projects.yaml metrics.host, 127.0.0.1]; 0.0.0.0 in a container.",
)

executor_option = click.option(
    "--executor",
    type=ExecutorParam(),
    default=None,
    envvar="EVMON_EXECUTOR",
    help="Where the days are computed: local processes, or a Dask cluster [default: projects.yaml's executor, "
    "else local] (env EVMON_EXECUTOR).",
)


def _config_flag(help_text: str, **extra: Any) -> Callable[[F], F]:
    return click.option("-c", "--config", "config_path", type=_CONFIG_TYPE, default=None, help=help_text, **extra)


def config_option(func: F) -> F:
    """The command's -c/--config; without it, the one given before the command, EVMON_CONFIG, ./projects.yaml."""

    @_config_flag("The projects.yaml to use [default: -c before the command, env EVMON_CONFIG, ./projects.yaml].")
    @functools.wraps(func)
    def wrapper(*args: Any, config_path: Path | None = None, **kwargs: Any) -> Any:
        if config_path is None:
            given = click.get_current_context().find_root().params.get("config_path")
            config_path = given if given is not None else DEFAULT_CONFIG
        return func(*args, config_path=config_path, **kwargs)

    return wrapper  # type: ignore[return-value]


def _load(config_path: Path) -> Any:
    from evmon.config.loader import load_config

    return load_config(config_path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(evmon.__version__, prog_name="evmon")
@_config_flag(
    "The projects.yaml every command uses (env EVMON_CONFIG) [default: projects.yaml].", envvar="EVMON_CONFIG"
)
@click.option(
    "--log-level",
    type=click.Choice(LEVELS, case_sensitive=False),
    default="INFO",
    show_default=True,
    envvar="EVMON_LOG_LEVEL",
    help="The services' log lines on stderr (env EVMON_LOG_LEVEL).",
)
def cli(config_path: Path | None, log_level: str) -> None:
    """evmon: self-hosted ML monitoring on Evidently.

    Reads projects.yaml, writes one Evidently snapshot per project and day into the
    workspace (env EVMON_WORKSPACE overrides its path), and serves it.
    """
    setup_logging(log_level)


@cli.command()
@config_option
@handle_errors
def validate(config_path: Path) -> None:
    """Check projects.yaml and the schemas of the files (or query) it points at; exit 2 on any problem."""
    from evmon.sources.validate import check_sources, check_warnings

    config = _load(config_path)
    for warning in check_warnings(config):  # said, never failing: e.g. an estimator fitted on the training data
        click.echo(f"Warning: {warning}", err=True)
    problems = check_sources(config)
    if problems:
        for problem in problems:
            click.echo(f"Error: {problem}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    names = ", ".join(p.name for p in config.projects)
    click.echo(f"{config_path}: OK, {len(config.projects)} projects ({names})")


@cli.command()
@config_option
@click.argument("project")
@click.option("--day", type=DAY, required=True, help="The day to compute (in the project's timezone).")
@click.option("--today", type=DAY, default=None, help="Pretend today is this day (decides which labels arrived).")
@executor_option
@handle_errors
def run(config_path: Path, project: str, day: date, today: date | None, executor: Any) -> None:
    """Compute one project-day and write (or replace) its snapshot; exit 3 if another process runs it."""
    from evmon.run.batch import DayTask, run_many
    from evmon.storage.files import workspace_for

    config = _load(config_path)
    chosen = config.project(project)
    (result,) = run_many(
        config,
        [DayTask(chosen, day)],
        workspace=workspace_for(config),
        workers=1,
        force=True,
        today=today,
        trigger="cli",
        executor=executor,
    )
    click.echo(result.line())
    sys.exit(_exit_code([result]))


@cli.command()
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
    """Compute every day from --start to --end; days already done are skipped unless --force."""
    from evmon.days import day_range
    from evmon.run.batch import DayTask, run_many, summarize
    from evmon.storage.files import workspace_for

    if end < start:
        raise click.BadParameter(f"--end {end} is before --start {start}", param_hint="--end")
    config = _load(config_path)
    chosen = config.project(project)
    tasks = [DayTask(chosen, day) for day in day_range(start, end)]
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
        ),
    )
    for result in results:
        if result.failed or result.outcome == "busy":
            click.echo(result.line())
    click.echo(f"{chosen.name}: {summarize(results)}")
    sys.exit(_exit_code(results))


def _exit_code(results: list[Any]) -> int:
    """1 if a day failed, else 3 if a day was busy in another process, else 0."""
    if any(r.failed for r in results):
        return EXIT_FAILED
    return EXIT_BUSY if any(r.outcome == "busy" for r in results) else 0


def _with_progress(total: int, job: Callable[[Callable[[Any], None]], Any]) -> Any:
    """Run `job` with a progress bar on stderr (shown only on a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        task_id = bar.add_task("days", total=total)

        def advance(result: Any) -> None:
            bar.update(task_id, advance=1, description=f"{result.project} {result.day}")

        return job(advance)


@cli.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (keep it local).")
@click.option("--port", type=int, default=8000, show_default=True)
@handle_errors
def ui(config_path: Path, host: str, port: int) -> None:
    """Serve the workspace in the real Evidently UI (telemetry off, write API closed).

    Each project's dashboard is brought up to date and unreadable snapshot files are moved
    to the quarantine first (one line each); the UI's output goes to .evmon/ui.log in the
    workspace and to stderr. Writes through the UI need the secret in EVMON_UI_SECRET (a
    random one when unset).
    """
    from evmon.processes import following, log_size, serve_until_stopped
    from evmon.services.ui import start_ui
    from evmon.storage.dashboards import write_dashboards
    from evmon.storage.files import workspace_for
    from evmon.storage.quarantine import clear_for_ui

    config = _load(config_path)
    workspace = workspace_for(config)
    workspace.prepare()
    checked = clear_for_ui(workspace, found_by="evmon ui")
    write_dashboards(config, workspace)
    for record in checked.quarantined:
        click.echo(f"Warning: {record.line()}", err=True)
    for file in checked.pending:
        click.echo(f"Warning: {file.path} is still being written; the UI may not load it", err=True)
    log = workspace.ui_log
    offset = log_size(log)
    process = start_ui(workspace, host, port, log_path=log)
    click.echo(f"Evidently UI: http://{host}:{port} ({_storage(workspace)}, writes closed); Ctrl-C stops it")
    click.echo(f"its log: {log} (and here, on stderr)")
    with following(log, sys.stderr.buffer, offset):
        code = serve_until_stopped(process)
    sys.exit(code)


@cli.command()
@config_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; on any but a loopback address the app is read-only by default.",
)
@click.option("--port", type=int, default=8501, show_default=True)
@click.option(
    "--ui-url",
    envvar="EVMON_UI_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="The Evidently UI that snapshot links point to (env EVMON_UI_URL).",
)
@click.option(
    "--allow-writes",
    is_flag=True,
    help="Allow re-runs and saves from the app on a --host other than 127.0.0.1 (app.writes: false still wins).",
)
@handle_errors
def app(config_path: Path, host: str, port: int, ui_url: str, allow_writes: bool) -> None:
    """Serve the Streamlit app: compare days, what-if re-runs, re-run days (telemetry off).

    Re-runs and saves are on when it listens on 127.0.0.1 only, unless app.writes in
    projects.yaml or --allow-writes says otherwise; with a login, only for app.writers.
    """
    from evmon.app.launch import start_app
    from evmon.processes import serve_until_stopped
    from evmon.services.access import decide_write_access

    config = _load(config_path)
    process = start_app(config.source_file, host=host, port=port, ui_url=ui_url, allow_writes=allow_writes)
    click.echo(f"evmon app: http://{host}:{port} (config {config.source_file}); Ctrl-C stops it")
    writes = decide_write_access(
        host=host,
        allow_writes=allow_writes,
        config_writes=config.app.writes,
        writers=(),
        login_configured=False,
        user=None,
        config_file=config.source_file.name,
    )
    only = "; only for signed-in users in app.writers (login: .streamlit/secrets.toml)" if config.app.writers else ""
    click.echo(f"evmon app: {writes.reason}{only if writes.allowed else ''}")
    sys.exit(serve_until_stopped(process))


@cli.command()
@config_option
@click.option("--today", type=DAY, default=None, help="Pretend today is this day, for every fire (tests, replays).")
@click.option(
    "--poll", type=click.FloatRange(0.1, 3600), default=5.0, show_default=True, help="Seconds between config checks."
)
@click.option(
    "--demo-data",
    is_flag=True,
    help="Extend the demo data to yesterday before each fire (what `evmon demo` does; for the Docker demo).",
)
@executor_option
@metrics_port_option
@metrics_host_option
@handle_errors
def scheduler(
    config_path: Path,
    today: date | None,
    poll: float,
    demo_data: bool,
    executor: Any,
    metrics_port: int | None,
    metrics_host: str | None,
) -> None:
    """Run every enabled project on its cron until SIGTERM/Ctrl-C; SIGHUP re-reads the config.

    Catches up missing days and days whose labels arrived, on start and on every fire;
    logs one line per project-day.
    """
    from evmon.demo.data import demo_data_extender
    from evmon.logs import lines_to
    from evmon.scheduler.serve import serve

    echo = lines_to("evmon.scheduler")
    serve(
        config_path,
        today=today,
        poll_seconds=poll,
        echo=echo,
        before_fire=demo_data_extender(config_path) if demo_data else None,
        executor=executor,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
    )


@cli.command()
@config_option
@click.option("--once", is_flag=True, help="Sync once and exit (exit 1 if a file or Postgres failed).")
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 3600),
    default=None,
    help="Seconds between syncs (default: bridge.interval_s in projects.yaml, 5).",
)
@metrics_port_option
@metrics_host_option
@handle_errors
def bridge(
    config_path: Path, once: bool, interval: float | None, metrics_port: int | None, metrics_host: str | None
) -> None:
    """Keep Postgres in step with the workspace, for Grafana (every few seconds, or --once).

    Postgres: EVMON_PG_DSN, else bridge.dsn in projects.yaml, else an embedded PostgreSQL on
    127.0.0.1:54329 with its data in .evmon-pg beside projects.yaml.
    """
    from evmon.bridge.service import run_bridge

    if once and metrics_port is not None:
        raise click.UsageError("--metrics-port serves the running bridge; --once exits after one sync")
    config = _load(config_path)
    ok = run_bridge(
        config, once=once, interval_s=interval, echo=click.echo, metrics_port=metrics_port, metrics_host=metrics_host
    )
    if not ok:
        sys.exit(EXIT_FAILED)


@cli.command()
@config_option
@click.option("--no-serve", is_flag=True, help="Prepare data and snapshots, then exit (for scripts and CI).")
@click.option("--days", type=click.IntRange(1, 3650), default=30, show_default=True, help="Fill this many last days.")
@click.option("--end", type=DAY, default=None, help="Last day of the demo data (default: yesterday).")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--port", type=int, default=8000, show_default=True, help="Port of the Evidently UI.")
@click.option("--app-port", type=int, default=8501, show_default=True, help="Port of the Streamlit app.")
@handle_errors
def demo(
    config_path: Path, no_serve: bool, days: int, end: date | None, workers: int, port: int, app_port: int
) -> None:
    """Generate the demo data, fill the last --days days, and serve the UI."""
    from evmon.demo.stack import DemoOptions, run_demo

    last = end if end is not None else date.today() - timedelta(days=1)
    options = DemoOptions(
        config_path=config_path,
        days=days,
        end=last,
        workers=workers,
        serve=not no_serve,
        ui_port=port,
        app_port=app_port,
    )
    outcome = run_demo(options, echo=click.echo)
    if outcome.stopped_by == "Ctrl-C":
        sys.exit(EXIT_INTERRUPTED)
    if not outcome.ok:
        sys.exit(EXIT_FAILED)


@cli.command()
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
    from evmon.storage.files import workspace_for

    config = _load(config_path)
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


@cli.command("migrate-ui")
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
    from evmon.storage.files import Workspace, workspace_root
    from evmon.storage.migration import copy_workspace
    from evmon.storage.postgres import PostgresWorkspace, ui_database_url

    config = _load(config_path)
    root = workspace_root(config)
    files = Workspace(root)
    database = PostgresWorkspace(root, dsn or ui_database_url(config.ui.dsn, config.bridge.dsn))
    source, goal = (files, database) if target == "postgres" else (database, files)
    click.echo(f"copying the UI's snapshots from {_storage(source)} to {_storage(goal)}")
    result = copy_workspace(source, goal, progress=click.echo)
    for problem in result.problems:
        click.echo(f"Error: {problem}", err=True)
    click.echo(f"migrate-ui: {result.line()}")
    if result.problems:
        sys.exit(EXIT_FAILED)


@cli.command("grafana-dashboards")
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


def _storage(workspace: Workspace) -> str:
    return f"the files of {workspace.root}" if workspace.stores_files else f"the UI's database ({workspace.storage})"


def main() -> None:
    """The console script: click's own handling, but Ctrl-C is a stop (one line, exit 130), not an abort."""
    try:
        cli.main(prog_name="evmon", standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C (click turns KeyboardInterrupt into Abort)
        click.echo("stopped (Ctrl-C); whatever finished is kept, run the command again to go on", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
