"""What `evmon scheduler` runs: the scheduler service and its /metrics, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from evmon.config.sections import ExecutorSettings
from evmon.scheduler.metrics import serve_scheduler_metrics
from evmon.scheduler.service import BeforeFire, Echo, SchedulerService, fixed_clock, utc_now


def serve(
    config_path: Path,
    *,
    today: date | None = None,
    poll_seconds: float = 5.0,
    echo: Echo = print,
    before_fire: BeforeFire | None = None,
    executor: ExecutorSettings | None = None,
    metrics_port: int | None = None,
    metrics_host: str | None = None,
) -> None:
    """A SchedulerService until SIGTERM/SIGINT (and its /metrics, if asked); `before_fire` runs before each fire."""
    clock = fixed_clock(today) if today is not None else utc_now
    service = SchedulerService(
        config_path, now=clock, poll_seconds=poll_seconds, echo=echo, before_fire=before_fire, executor=executor
    )
    echo(f"evmon scheduler (pid {os.getpid()}), config {config_path}")
    with serve_scheduler_metrics(service, metrics_port, metrics_host, echo):
        service.run_forever()
