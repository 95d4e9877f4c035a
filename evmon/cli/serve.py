"""The long-running commands: `evmon ui`, `app`, `scheduler`, `bridge` and `demo`."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click

from evmon.cli.options import (
    DAY,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    config_option,
    executor_option,
    handle_errors,
    load_config_file,
    metrics_host_option,
    metrics_port_option,
)


@click.command()
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
    from evmon.storage.quarantine import clear_for_ui
    from evmon.storage.registry import workspace_for

    config = load_config_file(config_path)
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
    click.echo(f"Evidently UI: http://{host}:{port} ({workspace.describe()}, writes closed); Ctrl-C stops it")
    click.echo(f"its log: {log} (and here, on stderr)")
    with following(log, sys.stderr.buffer, offset):
        code = serve_until_stopped(process)
    sys.exit(code)


@click.command()
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

    Re-runs and saves are on when it listens on 127.0.0.1, for browsers on this machine only
    (through a proxy: one in app.trusted_proxies), unless app.writes in projects.yaml or
    --allow-writes says otherwise; with a login, only for app.writers. Requests naming a host
    other than --host, localhost and app.allowed_hosts are refused (403).
    """
    from evmon.app.launch import start_app
    from evmon.processes import serve_until_stopped
    from evmon.services.access import decide_write_access
    from evmon.services.clients import allowed_hosts

    config = load_config_file(config_path)
    names = config.app.allowed_hosts
    process = start_app(
        config.source_file, host=host, port=port, ui_url=ui_url, allow_writes=allow_writes, allowed_hosts=names
    )
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
    click.echo(
        f"evmon app: answers requests for {', '.join(allowed_hosts(host, names))} "
        f"(others get 403: add names to app.allowed_hosts in {config.source_file.name})"
    )
    if config.app.trusted_proxies:
        proxies = ", ".join(config.app.trusted_proxies)
        click.echo(f"evmon app: believes the forwarded headers of {proxies} (app.trusted_proxies)")
    sys.exit(serve_until_stopped(process))


@click.command()
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


@click.command()
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
    config = load_config_file(config_path)
    ok = run_bridge(
        config, once=once, interval_s=interval, echo=click.echo, metrics_port=metrics_port, metrics_host=metrics_host
    )
    if not ok:
        sys.exit(EXIT_FAILED)


@click.command()
@config_option
@click.option("--no-serve", is_flag=True, help="Prepare data and snapshots, then exit (for scripts and CI).")
@click.option("--days", type=click.IntRange(1, 3650), default=30, show_default=True, help="Fill this many last days.")
@click.option("--end", type=DAY, default=None, help="Last day of the demo data (default: yesterday).")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--port", type=int, default=8000, show_default=True, help="Port of the Evidently UI.")
@click.option("--app-port", type=int, default=8501, show_default=True, help="Port of the Streamlit app.")
@click.option("--model-port", type=int, default=8090, show_default=True, help="Port of the credit model's service.")
@click.option(
    "--traffic-rate",
    type=click.FloatRange(0),
    default=20.0,
    show_default=True,
    help="Requests a second to it (0: none).",
)
@handle_errors
def demo(
    config_path: Path,
    no_serve: bool,
    days: int,
    end: date | None,
    workers: int,
    port: int,
    app_port: int,
    model_port: int,
    traffic_rate: float,
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
        model_port=model_port,
        traffic_rate=traffic_rate,
    )
    outcome = run_demo(options, echo=click.echo)
    if outcome.stopped_by == "Ctrl-C":
        sys.exit(EXIT_INTERRUPTED)
    if not outcome.ok:
        sys.exit(EXIT_FAILED)


COMMANDS = (
    ui,
    app,
    scheduler,
    bridge,
    demo,
)
