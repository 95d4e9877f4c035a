"""`evmon demo`: the demo data, its snapshots and the services, started together.

Serving, the UI comes up first and the days fill while it runs, so a newcomer sees the
projects appear one snapshot at a time; `--no-serve` does the same work and exits.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from evmon.config_loader import load_config
from evmon.ui_process import start_ui, stop, wait_ready

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


def run_demo(options: DemoOptions, echo: Echo) -> bool:
    """Prepare the demo and (unless serve=False) serve it until interrupted; False if a day failed."""
    from scheduler.backfill import DayTask, run_many, summarize
    from scheduler.demo import ensure_demo_data
    from scheduler.runner import workspace_for

    config = load_config(options.config_path)
    data_dir = config.base_dir / "demo_data"
    episodes = ensure_demo_data(data_dir, end=options.end)
    echo(f"demo data in {data_dir} up to {options.end} (episodes anchored at {episodes.anchor})")
    workspace = workspace_for(config)
    workspace.prepare()
    first = options.end - timedelta(days=options.days - 1)
    tasks = [
        DayTask(project, first + timedelta(days=i))
        for project in config.projects
        if project.enabled
        for i in range(options.days)
    ]

    def fill() -> bool:
        results = run_many(
            config,
            tasks,
            workspace=workspace,
            workers=options.workers,
            today=options.end + timedelta(days=1),
            trigger="demo",
            progress=lambda result: echo(result.line()),
        )
        echo(f"demo days {first}..{options.end}: {summarize(results)}")
        return not any(r.failed for r in results)

    if not options.serve:
        return fill()

    ui = start_ui(workspace.root, options.ui_host, options.ui_port, log_path=workspace.evmon_dir / "ui.log")
    outcome: dict[str, bool] = {}
    try:
        url = f"http://{options.ui_host}:{options.ui_port}"
        wait_ready(url + "/api/projects", ui)
        echo(f"Evidently UI: {url} (filling {len(tasks)} project-days while it runs; Ctrl-C stops)")
        worker = threading.Thread(target=lambda: outcome.setdefault("ok", fill()), daemon=True)
        worker.start()
        _wait_for_stop(ui)
    finally:
        stop(ui)
    return outcome.get("ok", True)


def _wait_for_stop(ui: subprocess.Popen[bytes]) -> None:
    """Block until Ctrl-C or SIGTERM (or the UI process dies)."""
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(1.0):
            if ui.poll() is not None:
                return
    except KeyboardInterrupt:
        return
