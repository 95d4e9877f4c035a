"""`evmon demo`: the demo data, its snapshots and the services, started together.

Serving, the UI comes up first and the days fill while it runs, so a newcomer sees the
projects appear one snapshot at a time; `--no-serve` does the same work and exits.
The dashboards are written first (from projects.yaml), and once the days are filled the
scheduler runs in-process (extending the demo data before each fire) to keep it current.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.processes import Stopped, StopSignals, stop, wait_ready
from evmon.services.ui import start_ui

if TYPE_CHECKING:
    from evmon.bridge.service import BackgroundBridge
    from evmon.scheduler.service import SchedulerService
    from evmon.storage.base import Workspace

Echo = Callable[[str], None]


@dataclass(frozen=True)
class DemoOptions:
    """What `evmon demo` was asked to do."""

    config_path: Path
    days: int
    end: date
    workers: int = 2
    serve: bool = True
    ui_host: str = "127.0.0.1"
    ui_port: int = 8000
    app_port: int = 8501  # the Streamlit app, started after the UI
    model_port: int = 8090  # the credit model's service (evmon.demo.service), watched by evmon.online
    traffic_rate: float = 20.0  # requests a second the demo's traffic sends it (0: no traffic)


@dataclass(frozen=True)
class DemoOutcome:
    """How `evmon demo` ended: whether every day it ran went well, and what stopped it, if anything."""

    ok: bool
    stopped_by: str | None = None  # "Ctrl-C" or "SIGTERM" when the user stopped it


def run_demo(options: DemoOptions, echo: Echo) -> DemoOutcome:
    """Prepare the demo and (unless serve=False) serve it until stopped (Ctrl-C or SIGTERM)."""
    from evmon.demo.data import ensure_demo_data
    from evmon.run.batch import DayTask, Interrupted, summarize
    from evmon.run.many import run_many
    from evmon.storage.registry import workspace_for

    config = load_config(options.config_path)
    data_dir = config.base_dir / "demo_data"
    episodes = ensure_demo_data(data_dir, end=options.end)
    echo(f"demo data in {data_dir} up to {options.end} (episodes anchored at {episodes.anchor})")
    workspace = workspace_for(config)
    workspace.prepare()
    _dashboards(config, workspace, echo)
    first = options.end - timedelta(days=options.days - 1)
    tasks = [
        DayTask(project, first + timedelta(days=i))
        for project in config.projects
        if project.enabled
        for i in range(options.days)
    ]
    stopping = threading.Event()

    def fill() -> bool:
        try:
            results = run_many(
                config,
                tasks,
                workspace=workspace,
                workers=options.workers,
                today=options.end + timedelta(days=1),
                trigger="demo",
                progress=lambda result: echo(result.line()),
                stop=stopping,
            )
        except Interrupted as stopped:
            echo(f"demo days {first}..{options.end}: {stopped}; the next `evmon demo` fills the rest")
            return not any(r.failed for r in stopped.done)
        echo(f"demo days {first}..{options.end}: {summarize(results)}")
        return not any(r.failed for r in results)

    if not options.serve:
        return DemoOutcome(fill())

    outcome: dict[str, bool] = {}
    stopped_by: str | None = None
    scheduler = _DemoScheduler(options.config_path, workspace, echo)
    ui: subprocess.Popen[bytes] | None = None
    app: subprocess.Popen[bytes] | None = None
    model: list[subprocess.Popen[bytes]] = []
    bridge: BackgroundBridge | None = None
    worker: threading.Thread | None = None
    with StopSignals(interrupt=True) as signals:  # Ctrl-C or SIGTERM unwind the waits below
        try:
            _clear_for_ui(workspace, echo)
            ui = start_ui(workspace, options.ui_host, options.ui_port, log_path=workspace.ui_log)
            url = f"http://{options.ui_host}:{options.ui_port}"
            wait_ready(url + "/api/projects", ui)
            echo(f"Evidently UI: {url} (filling {len(tasks)} project-days while it runs; Ctrl-C stops)")
            bridge = _start_bridge(config, echo)
            # the app's Fleet page reads the bridge's database (the embedded one's DSN only the bridge knows)
            synced = bridge.bridge if bridge is not None else None
            app = _start_app(options, workspace, url, echo, synced.dsn if synced is not None else None)
            model = _start_model(options, workspace, echo)

            def fill_then_schedule() -> None:
                outcome["ok"] = fill()
                scheduler.start()

            worker = threading.Thread(target=fill_then_schedule, name="evmon-demo-fill", daemon=True)
            worker.start()
            _wait_for_stop(ui)
        except KeyboardInterrupt as exc:
            stopped_by = exc.by if isinstance(exc, Stopped) else "Ctrl-C"
            echo(f"{stopped_by}: stopping the demo")
        finally:
            signals.interrupt = False  # a second Ctrl-C or SIGTERM does not cut the clean-up short
            stopping.set()  # the fill abandons its days in progress (nothing partial is written)
            scheduler.stop()
            if worker is not None:
                worker.join(timeout=60)
            if bridge is not None:
                bridge.stop()  # the loop, then the embedded Postgres it started
            for process in (*reversed(model), app, ui):
                if process is not None:
                    stop(process)
    return DemoOutcome(outcome.get("ok", True), stopped_by)


def _clear_for_ui(workspace: Workspace, echo: Echo) -> None:
    """Unreadable snapshot files out of the UI's tree before it starts (one would fail every project)."""
    from evmon.storage.quarantine import clear_for_ui

    for record in clear_for_ui(workspace, found_by="evmon demo").quarantined:
        echo(f"Warning: {record.line()}")


def _start_bridge(config: EvmonConfig, echo: Echo) -> BackgroundBridge | None:
    """The Postgres bridge in the background (an embedded PostgreSQL when no DSN is configured).

    The demo goes on without it if Postgres cannot be had: the UI and the app do not need it.
    """
    from evmon.bridge.service import BackgroundBridge
    from evmon.errors import EvmonError

    bridge = BackgroundBridge(config, echo)
    try:
        bridge.start()
    except EvmonError as exc:
        echo(f"Error: the Postgres bridge did not start, Grafana's tables stay empty: {exc}")
        bridge.stop()
        return None
    return bridge


def _start_app(
    options: DemoOptions, workspace: Workspace, ui_url: str, echo: Echo, pg_dsn: str | None
) -> subprocess.Popen[bytes]:
    """The Streamlit app on the demo's config and workspace, linking to the UI at `ui_url`, its Fleet page
    reading the bridge's database at `pg_dsn`."""
    from evmon.app.launch import health_url, start_app

    app = start_app(
        options.config_path,
        host=options.ui_host,
        port=options.app_port,
        ui_url=ui_url,
        workspace=workspace.root,
        log_path=workspace.evmon_dir / "app.log",
        pg_dsn=pg_dsn,
    )
    try:
        wait_ready(health_url(options.ui_host, options.app_port), app)
    except BaseException:  # not ready, or Ctrl-C while starting: do not leave it running
        stop(app)
        raise
    echo(f"evmon app: http://{options.ui_host}:{options.app_port} (the fleet, compare days, what-ifs, re-runs)")
    return app


def _start_model(options: DemoOptions, workspace: Workspace, echo: Echo) -> list[subprocess.Popen[bytes]]:
    """The credit model's service and the traffic replaying the demo's rows to it; the demo goes on without them."""
    import os
    import sys

    from evmon.errors import EvmonError
    from evmon.processes import start_service

    url = f"http://{options.ui_host}:{options.model_port}"
    config = str(options.config_path)
    serve = [sys.executable, "-m", "evmon.demo.service", "--config", config, "--port", str(options.model_port)]
    service = start_service(serve, os.environ, workspace.evmon_dir / "model.log")
    try:
        wait_ready(url + "/health", service, timeout=60)
    except EvmonError as exc:
        stop(service)
        echo(f"Error: the credit model's service did not start ({workspace.evmon_dir / 'model.log'}): {exc}")
        return []
    echo(f"credit model service: {url}/score, {url}/metrics (evmon.online)")
    echo(
        "its scored rows are credit_scorecard_live's: Grafana's Online dashboard shows today's as they come, "
        "the daily snapshot of a day is made once it is over (00:05 UTC)"
    )
    if options.traffic_rate <= 0:
        return [service]
    drive = [sys.executable, "-m", "evmon.demo.traffic", "--config", config, "--url", url]
    traffic = start_service(
        [*drive, "--rate", str(options.traffic_rate)], os.environ, workspace.evmon_dir / "traffic.log"
    )
    echo(f"demo traffic: {options.traffic_rate:g} requests/s replaying the demo's days (episodes included)")
    return [service, traffic]


def _dashboards(config: EvmonConfig, workspace: Workspace, echo: Echo) -> None:
    """The projects' UI dashboards, from projects.yaml."""
    from evmon.storage.dashboards import write_dashboards

    changed = write_dashboards(config, workspace)
    if changed:
        echo(f"dashboards written: {', '.join(changed)}")


class _DemoScheduler:
    """The scheduler, run in-process once the demo is filled: new days (and their demo data,
    generated before each fire) and late labels keep the demo current."""

    def __init__(self, config_path: Path, workspace: Workspace, echo: Echo) -> None:
        self._args = (config_path, workspace, echo)
        self._lock = threading.Lock()
        self._stopped = False
        self._service: SchedulerService | None = None

    def start(self) -> None:
        from evmon.demo.data import demo_data_extender
        from evmon.scheduler.service import SchedulerService

        config_path, workspace, echo = self._args
        with self._lock:
            if self._stopped:
                return
            self._service = SchedulerService(
                config_path, workspace=workspace, echo=echo, before_fire=demo_data_extender(config_path)
            )
            self._service.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._service is not None:
                self._service.stop()


def _wait_for_stop(ui: subprocess.Popen[bytes]) -> None:
    """Block until the UI process dies; Ctrl-C or SIGTERM raise Stopped (StopSignals) meanwhile."""
    while ui.poll() is None:
        time.sleep(1.0)
