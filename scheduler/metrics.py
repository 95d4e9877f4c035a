"""`evmon scheduler`'s /metrics: runs and last successes from the run log, due days from the workspace.

Nothing here keeps a second copy of the scheduler's state; each value is read where it lives:
- the run log (evmon.storage.runlog): runs by project and status, each project's newest successful day,
  the durations and rows of the successful runs (histograms of all projects together: 19 series
  per project would make most of a scrape's size and time). The log is append-only, so a scrape reads only the
  rows logged since the previous one (RunLog.appended) and adds them to its tallies; the first
  scrape reads it whole. The tallies count every run in the workspace's log (a backfill's, the
  app's, another scheduler's), so they survive restarts and agree between two schedulers.
- the workspace: each scheduled project's due days, by the scheduler's own planning
  (scheduler.service.plan). Planning a project lists its snapshots and reads its runs (a few ms
  with a year of history), too slow for a scrape of 100 projects; a background thread re-plans
  a project only when one of its inputs changed (its local day, projects.yaml, its snapshot
  folder, its runs, the quarantine), every REFRESH_S, and the scrape reads the newest plans.
- the service: its clock (for ages), its projects, its config reloads and rejected reloads.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from evmon.days import today_in
from evmon.errors import EvmonError, RunLogError
from evmon.scheduler.service import SchedulerService, plan
from evmon.services.exporter import MetricsServer, day_end, day_start, metrics_address, new_registry
from evmon.snapshot.ids import project_id
from evmon.storage.quarantine import fingerprint as quarantine_fingerprint
from evmon.storage.runlog import RunLog

log = logging.getLogger(__name__)

STATUSES = ("ok", "skipped", "failed", "busy")  # every project gets all four series (0 until one happens)
DURATION_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
ROWS_BUCKETS = (1e3, 1e4, 1e5, 1e6, 1e7)
REFRESH_S = 5.0


@dataclass
class Histogram:
    """Observations in fixed buckets, exported cumulatively."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    count: int = 0
    total: float = 0.0

    def observe(self, value: float) -> None:
        if not self.counts:
            self.counts = [0] * len(self.bounds)
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                break
        self.count += 1
        self.total += value

    def copy(self) -> Histogram:
        return Histogram(self.bounds, list(self.counts), self.count, self.total)

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, n in zip(self.bounds, self.counts or [0] * len(self.bounds), strict=True):
            running += n
            out.append((floatToGoString(bound), running))
        return [*out, ("+Inf", self.count)]


@dataclass
class Tally:
    """What the run log holds so far, summed up."""

    runs: dict[tuple[str, str], int] = field(default_factory=dict)  # (project, status) -> runs
    durations: Histogram = field(default_factory=lambda: Histogram(DURATION_BUCKETS))  # successful runs' seconds
    rows: Histogram = field(default_factory=lambda: Histogram(ROWS_BUCKETS))  # successful runs' rows
    last_ok_day: dict[str, str] = field(default_factory=dict)  # newest day with a successful daily run
    last_rowid: dict[str, int] = field(default_factory=dict)  # changes whenever the project gets a run

    def copy(self) -> Tally:
        return Tally(
            dict(self.runs), self.durations.copy(), self.rows.copy(), dict(self.last_ok_day), dict(self.last_rowid)
        )


class RunTally:
    """The run log of a workspace, tallied incrementally (thread-safe)."""

    def __init__(self, run_log: RunLog) -> None:
        self.run_log = run_log
        self._lock = threading.Lock()
        self._tally = Tally()
        self._after = 0
        self._inode: int | None = None

    def update(self) -> Tally:
        """Add the runs logged since the last update; a copy of the tallies (other threads update them)."""
        with self._lock:
            try:
                inode: int | None = self.run_log.path.stat().st_ino
            except FileNotFoundError:
                inode = None
            if inode != self._inode:  # a new (or replaced) file: count it from the start
                self._tally, self._after, self._inode = Tally(), 0, inode
            tally = self._tally
            try:
                appended = self.run_log.appended(self._after)
            except (sqlite3.Error, RunLogError) as exc:  # locked past its timeout, damaged: the tallies so far
                log.warning("metrics: the run log was not read: %s", exc)
                appended = []
            for run in appended:
                key = (run.project, run.status)
                tally.runs[key] = tally.runs.get(key, 0) + 1
                tally.last_rowid[run.project] = run.rowid
                if run.status == "ok":
                    tally.durations.observe(run.duration_s)
                    if run.rows is not None:
                        tally.rows.observe(run.rows)
                    if run.kind == "daily" and run.day > tally.last_ok_day.get(run.project, ""):
                        tally.last_ok_day[run.project] = run.day
                self._after = run.rowid
            return tally.copy()


class DueDays:
    """Each scheduled project's due days, re-planned when its inputs change (refresh(); start() loops it)."""

    def __init__(self, service: SchedulerService, tally: RunTally, refresh_s: float = REFRESH_S) -> None:
        self.service = service
        self.tally = tally
        self.refresh_s = refresh_s
        self._plans: dict[str, tuple[Any, int]] = {}  # project -> (the inputs' key, due days)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def values(self) -> dict[str, int]:
        with self._lock:
            return {name: due for name, (_, due) in self._plans.items()}

    def refresh(self) -> int:
        """Re-plan the projects whose inputs changed; how many were re-planned."""
        service = self.service
        projects = {p.name: p for p in service.config.projects if p.enabled}
        last_rowid = self.tally.update().last_rowid
        quarantine = tuple(quarantine_fingerprint(service.workspace))
        now = service.now()
        replanned = 0
        for name, project in projects.items():
            key = (
                today_in(project.timezone, now),
                service.reloads,
                self._folder_version(name),
                last_rowid.get(name),
                quarantine,
            )
            with self._lock:
                known = self._plans.get(name)
            if known is not None and known[0] == key:
                continue
            try:
                due = len(plan(service.workspace, project, key[0]))
            except (EvmonError, OSError) as exc:
                log.warning("metrics: due days of %s not known: %s", name, exc)
                continue
            with self._lock:
                self._plans[name] = (key, due)
            replanned += 1
        with self._lock:
            for name in [n for n in self._plans if n not in projects]:
                del self._plans[name]
        return replanned

    def _folder_version(self, name: str) -> int | None:
        """The project's snapshot folder's mtime: it changes whenever a snapshot is written, replaced or removed."""
        workspace = self.service.workspace
        if not workspace.stores_files:  # snapshots in a database: re-planned once a minute
            return int(time.monotonic() // 60)
        return workspace.listing_mark(project_id(name))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="evmon-metrics-due-days", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # metrics must never take the scheduler down
                log.exception("metrics: planning the due days failed")
            self._stop.wait(self.refresh_s)


class SchedulerCollector(Collector):
    """The scheduler's metrics, read at scrape time (see the module's docstring)."""

    def __init__(self, service: SchedulerService, tally: RunTally, due: DueDays) -> None:
        self.service = service
        self.tally = tally
        self.due = due

    def collect(self) -> Iterable[Metric]:
        service = self.service
        tally = self.tally.update()
        scheduled = {p.name: p for p in service.config.projects if p.enabled}
        yield from self._runs(tally, sorted({name for name, _ in tally.runs} | scheduled.keys()))

        yield _gauges(
            "evmon_project_scheduled",
            "1 for each project the scheduler runs (enabled in projects.yaml)",
            ((name, 1.0) for name in sorted(scheduled)),
        )
        now = service.now().timestamp()
        newest = {name: date.fromisoformat(tally.last_ok_day[name]) for name in scheduled if name in tally.last_ok_day}
        yield _gauges(
            "evmon_project_last_success_day_timestamp_seconds",
            "Start (00:00 in the project's timezone) of the newest day with a successful daily run",
            ((name, day_start(day, scheduled[name].timezone)) for name, day in sorted(newest.items())),
        )
        yield _gauges(
            "evmon_project_last_success_age_seconds",
            "Seconds from the end of that day (24:00 in the project's timezone) to now",
            ((name, now - day_end(day, scheduled[name].timezone)) for name, day in sorted(newest.items())),
        )
        yield _gauges(
            "evmon_project_due_days",
            "Days the scheduler would run for the project now (missing days, days whose labels arrived)",
            ((name, float(due)) for name, due in sorted(self.due.values().items()) if name in scheduled),
        )
        reloads = CounterMetricFamily("evmon_scheduler_config_reloads", "Re-reads of projects.yaml applied")
        reloads.add_metric([], service.reloads)
        yield reloads
        errors = CounterMetricFamily(
            "evmon_scheduler_config_errors", "Re-reads of projects.yaml rejected as invalid (the running one kept)"
        )
        errors.add_metric([], service.config_errors)
        yield errors
        valid = GaugeMetricFamily(
            "evmon_scheduler_config_valid", "0 while projects.yaml is invalid (the scheduler runs the last valid one)"
        )
        valid.add_metric([], 0.0 if service.last_config_error else 1.0)
        yield valid

    @staticmethod
    def _runs(tally: Tally, projects: list[str]) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "evmon_runs", "Project-day runs in the workspace's run log, by outcome", labels=["project", "status"]
        )
        for name in projects:
            for status in STATUSES:
                runs.add_metric([name, status], tally.runs.get((name, status), 0))
        yield runs
        for metric, doc, histogram in (
            ("evmon_run_duration_seconds", "Duration of the successful runs (every project)", tally.durations),
            ("evmon_run_rows", "Rows of the current data of the successful runs (every project)", tally.rows),
        ):
            yield HistogramMetricFamily(metric, doc, buckets=histogram.buckets(), sum_value=histogram.total)


def _gauges(name: str, doc: str, values: Iterable[tuple[str, float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["project"])
    for project, value in values:
        family.add_metric([project], value)
    return family


def scheduler_registry(service: SchedulerService) -> tuple[CollectorRegistry, DueDays]:
    """The scheduler's own registry, and the due-days planner it reads (not started)."""
    registry = new_registry("scheduler")
    tally = RunTally(RunLog(service.workspace.evmon_dir))
    due = DueDays(service, tally)
    registry.register(SchedulerCollector(service, tally, due))
    return registry, due


@contextlib.contextmanager
def serve_scheduler_metrics(
    service: SchedulerService, port: int | None, host: str | None, echo: Callable[[str], None]
) -> Iterator[MetricsServer | None]:
    """/metrics of `service` while the block runs, if a port is given or configured; else nothing."""
    address = metrics_address(service.config.metrics, "scheduler", port, host)
    if address is None:
        yield None
        return
    registry, due = scheduler_registry(service)
    with MetricsServer(registry, address) as server:
        echo(f"metrics: {server.address.url}")
        due.start()
        try:
            yield server
        finally:
            due.stop()
