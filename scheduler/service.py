"""`evmon scheduler`: one APScheduler 3 cron job per enabled project; the workspace decides what runs.

- Each enabled project has one job (id = project name) with a CronTrigger of its schedule in
  its own timezone, max_instances=1 and coalesce (a fire while the project is running is
  skipped; missed fires run once), no misfire grace limit. Its first fire is at start, so a
  week of downtime is caught up at once.
- A fire computes the project's due days from the workspace (scheduler.due; no job store)
  and runs them with evmon.run.many.run_many, one at a time here or on the configured Dask
  cluster (`executor`), each with a `still_due` re-check under the day's lock, so that two
  schedulers on one workspace never both run a day. One log line per project-day. The local
  processes that compute the days are kept warm from one fire to the next (a DayProcessPool of
  `workers` processes, ended at stop()): a night's day skips importing Evidently and the
  reference's side of the day.
- projects.yaml is polled (mtime) every `poll_seconds` and re-read on SIGHUP: new projects
  are scheduled (and caught up), removed or disabled ones unscheduled, changed schedules
  re-armed; an invalid file is reported once and the running config kept. Dashboards are
  rewritten from the config on start, on reload, and after runs (segment values grow).
- Before planning, a fire checks the project's daily snapshot files of its scan window the way
  the Evidently UI loads them; an unreadable one is moved to the quarantine (evmon.storage.quarantine),
  logged, and its day is due again (within the catch-up window). The start reports how many
  files the quarantine holds.
- After its runs, a fire compacts the project's snapshots older than retention.full_days
  (evmon.storage.compaction), so the UI stays fast with years of history.
- stop() (SIGTERM/SIGINT under run_forever) lets the day in progress finish and starts no
  other; a killed process leaves nothing partial (atomic writes) and the next start redoes
  exactly what is missing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from functools import partial
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from evmon.config.loader import file_signature, load_config
from evmon.config.model import EvmonConfig, Project
from evmon.config.sections import ExecutorSettings
from evmon.days import day_range, labels_arrived, today_in
from evmon.errors import ConfigError, EvmonError
from evmon.processes import StopSignals
from evmon.run.batch import DayTask, Interrupted
from evmon.run.day import DayResult
from evmon.run.executors.pool import DayProcessPool
from evmon.run.many import run_many
from evmon.scheduler.due import DoneDays, DuePolicy, catchup_window, day_is_due, due_days, scan_window
from evmon.snapshot.contract import meta_of
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.base import Workspace
from evmon.storage.compaction import compact_project
from evmon.storage.dashboards import write_dashboards, write_project_dashboard
from evmon.storage.quarantine import QuarantineRecord, check_and_quarantine, list_quarantined, quarantined_ids
from evmon.storage.registry import workspace_for
from evmon.storage.runlog import RunLog

Echo = Callable[[str], None]
Clock = Callable[[], datetime]
TriggerFactory = Callable[[Project], BaseTrigger]
BeforeFire = Callable[[Project, date], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


def fixed_clock(today: date) -> Clock:
    """A clock frozen at noon UTC of `today` (the same calendar day from UTC-11 to UTC+11)."""
    moment = datetime.combine(today, time(12), tzinfo=UTC)
    return lambda: moment


def cron_trigger(project: Project) -> BaseTrigger:
    """The project's schedule: its 5-field cron in its own timezone."""
    return CronTrigger.from_crontab(project.schedule, timezone=project.timezone)


# --- the workspace's state of a project (the I/O around scheduler.due) ---------------------


def _labels_from_file(workspace: Workspace, project: Project, day: date) -> bool | None:
    """The snapshot's own record of its labels (metadata "labels"), None if unreadable."""
    try:
        header = workspace.read_snapshot_header(project_id(project.name), daily_snapshot_id(project.name, day))
    except EvmonError:
        return None
    return meta_of(header).labels


def done_days(workspace: Workspace, project: Project, today: date) -> DoneDays:
    """Each day of the scan window that has a daily snapshot -> whether it holds labels.

    Labels come from the run log's newest successful run of the day; only if the run log
    lacks the day (a copied workspace) from the snapshot file's metadata, and only when it
    matters (the day's labels have arrived).
    """
    policy = DuePolicy.of(project)
    first, last = scan_window(today, policy)
    existing = {f.snapshot_id for f in workspace.list_snapshots(project_id(project.name))}
    runs = RunLog(workspace.evmon_dir).latest_ok(project.name)
    done: dict[date, bool | None] = {}
    for day in day_range(first, last):
        if daily_snapshot_id(project.name, day) not in existing:
            continue
        run = runs.get(day)
        if run is not None:
            done[day] = run.labels_included
        elif policy.has_quality and labels_arrived(day, today, policy.label_lag_days):
            done[day] = _labels_from_file(workspace, project, day)
        else:
            done[day] = None
    return done


def plan(workspace: Workspace, project: Project, today: date) -> list[date]:
    """The project's due days on `today` (its local date), oldest first.

    A day of the catch-up window whose snapshot was quarantined, and not written again since,
    is due like a missing day (due_days alone fills only the days after the newest snapshot).
    """
    due = set(due_days(done_days(workspace, project, today), today, DuePolicy.of(project)))
    return sorted(due | set(_quarantined_days(workspace, project, today)))


def _quarantined_days(workspace: Workspace, project: Project, today: date) -> list[date]:
    pid = project_id(project.name)
    quarantined = quarantined_ids(workspace, pid)
    if not quarantined:
        return []
    existing = {f.snapshot_id for f in workspace.list_snapshots(pid)}
    first, last = catchup_window(today, DuePolicy.of(project))
    return [
        day
        for day in day_range(first, last)
        if (sid := daily_snapshot_id(project.name, day)) in quarantined and sid not in existing
    ]


def quarantine_unreadable(workspace: Workspace, project: Project, today: date) -> list[QuarantineRecord]:
    """Check the project's daily snapshot files of its scan window; move the unreadable ones to the quarantine."""
    first, last = scan_window(today, DuePolicy.of(project))
    ids = {daily_snapshot_id(project.name, day) for day in day_range(first, last)}
    files = [f for f in workspace.list_snapshots(project_id(project.name)) if f.snapshot_id in ids]
    return check_and_quarantine(workspace, "scheduler", files).quarantined


def still_due(workspace: Workspace, project: Project, day: date, today: date) -> bool:
    """Whether `day` is due right now (asked under its lock, just before running it)."""
    exists = workspace.snapshot_exists(project_id(project.name), daily_snapshot_id(project.name, day))
    labels: bool | None = None
    if exists:
        run = RunLog(workspace.evmon_dir).latest_ok(project.name).get(day)
        labels = run.labels_included if run is not None else _labels_from_file(workspace, project, day)
    return day_is_due(day, exists, labels, today, DuePolicy.of(project))


class SchedulerService:
    """The scheduler of one projects.yaml and its workspace (a ConfigError if the file is invalid)."""

    def __init__(
        self,
        config_path: str | Path,
        *,
        workspace: Workspace | None = None,
        now: Clock = utc_now,
        trigger_for: TriggerFactory = cron_trigger,
        poll_seconds: float = 5.0,
        workers: int = 1,
        echo: Echo = print,
        before_fire: BeforeFire | None = None,
        dashboards: bool = True,
        executor: ExecutorSettings | None = None,
    ) -> None:
        self.config_path = Path(config_path)
        self._signature = file_signature(self.config_path)
        self._config: EvmonConfig = load_config(self.config_path)
        self.workspace = workspace if workspace is not None else workspace_for(self._config)
        self._now = now
        self._trigger_for = trigger_for
        self.poll_seconds = poll_seconds
        self._echo = echo
        self._before_fire = before_fire
        self._dashboards = dashboards
        self._executor = executor  # None: projects.yaml's executor, as reloaded
        self._stopping = threading.Event()
        self._reload_requested = threading.Event()
        self._reload_lock = threading.Lock()
        self._results_lock = threading.Lock()
        self.results: list[DayResult] = []
        self.last_config_error: str | None = None
        self.reloads = 0  # re-reads of projects.yaml applied, and rejected (for /metrics)
        self.config_errors = 0
        self._watcher: threading.Thread | None = None
        self._pool = DayProcessPool(workers)  # each fire's process kept warm for the next fire
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self._scheduler.add_listener(self._on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)

    @property
    def config(self) -> EvmonConfig:
        return self._config

    def now(self) -> datetime:
        """The service's clock (the real one, or --today's)."""
        return self._now()

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Arm one job per enabled project (each fires at once to catch up) and watch the config."""
        self.workspace.prepare()
        self.workspace.clean_staging()
        self._write_dashboards(self._config)
        for project in self._enabled(self._config).values():
            self._arm(project, immediately=True)
        self._scheduler.start()
        self._watcher = threading.Thread(target=self._watch, name="evmon-config-watch", daemon=True)
        self._watcher.start()
        names = ", ".join(self._enabled(self._config)) or "none"
        self._echo(f"scheduler started on {self.workspace.root}: projects {names}")
        held = len(list_quarantined(self.workspace))
        if held:
            self._echo(f"{held} unreadable snapshot file(s) in the quarantine {self.workspace.quarantine}")

    def stop(self) -> None:
        """Finish the day in progress, start no other, and stop (idempotent)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._reload_requested.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self._pool.close()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
        self._echo("scheduler stopped")

    def run_forever(self) -> None:
        """start(), then serve until SIGTERM or SIGINT (SIGHUP re-reads the config); then stop()."""
        with StopSignals(on_hangup=self.request_reload) as stopping:
            try:
                self.start()
                while not stopping.event.wait(1.0):
                    pass
                self._echo(f"{stopping.by}: stopping after the day in progress")
            finally:
                self.stop()

    def warm_pids(self) -> list[int]:
        """The processes kept warm for the next fire (idle now)."""
        return self._pool.pids()

    def jobs(self) -> dict[str, str]:
        """The armed jobs: project name -> its trigger."""
        return {job.id: str(job.trigger) for job in self._scheduler.get_jobs()}

    # --- one fire -----------------------------------------------------------------------------

    def due(self, name: str) -> list[date]:
        """The due days of an enabled project now (by the service's clock)."""
        project = self._enabled(self._config)[name]
        return plan(self.workspace, project, today_in(project.timezone, self._now()))

    def fire(self, name: str) -> list[DayResult]:
        """Run the project's due days, oldest first; one log line each. The job function."""
        config = self._config
        project = self._enabled(config).get(name)
        if project is None or self._stopping.is_set():
            return []
        today = today_in(project.timezone, self._now())
        results: list[DayResult] = []
        try:
            if self._before_fire is not None:
                self._before_fire(project, today)
            for record in quarantine_unreadable(self.workspace, project, today):
                self._echo(f"{name}: {record.line()}")
            tasks = [
                DayTask(project, day, partial(still_due, self.workspace, project, day, today))
                for day in plan(self.workspace, project, today)
            ]

            def ran(result: DayResult) -> None:
                self._echo(result.line())
                results.append(result)
                with self._results_lock:
                    self.results.append(result)

            with contextlib.suppress(Interrupted):  # stopping: the day in progress finished, no other starts
                run_many(
                    config,
                    tasks,
                    workspace=self.workspace,
                    workers=1,
                    force=True,
                    today=today,
                    trigger="scheduler",
                    progress=ran,
                    stop=self._stopping,
                    dashboards=False,
                    executor=self._executor,
                    compact=False,  # below, after the dashboard, on every fire
                    pool=self._pool,
                )
            if self._dashboards:  # also when another process wrote the days (a backfill, the demo)
                write_project_dashboard(self.workspace, project)
            compaction = compact_project(config, project, self.workspace, today)
            if compaction.compacted or compaction.failed:
                self._echo(compaction.line())
        except Exception as exc:  # one project's trouble must not stop the scheduler
            self._echo(f"{name}: scheduled run failed: {type(exc).__name__}: {exc}")
        return results

    # --- config reload --------------------------------------------------------------------------

    def request_reload(self) -> None:
        """Re-read projects.yaml soon (what SIGHUP does)."""
        self._reload_requested.set()

    def reload(self, reason: str = "reload") -> bool:
        """Re-read projects.yaml and apply it; False (old config kept) if it is invalid."""
        with self._reload_lock:
            self._signature = file_signature(self.config_path)
            try:
                new = load_config(self.config_path)
            except ConfigError as exc:
                self.last_config_error = str(exc)
                self.config_errors += 1
                self._echo(f"config not reloaded ({reason}), keeping the running one: {exc}")
                return False
            self.last_config_error = None
            self.reloads += 1
            old, self._config = self._config, new
            changes = self._apply(old, new)
            changes += self._restart_only(new)
            self._write_dashboards(new)
            self._echo(f"config reloaded ({reason}): " + ("; ".join(changes) or "no schedule changes"))
            return True

    def _restart_only(self, new: EvmonConfig) -> list[str]:
        """The settings a reload cannot apply (where snapshots are written), said rather than ignored."""
        try:
            target = workspace_for(new)
        except EvmonError as exc:
            return [f"the workspace settings are not usable and were not applied ({exc})"]
        notes = []
        if target.root != self.workspace.root:
            notes.append(f"workspace {target.root} takes effect on restart (still {self.workspace.root})")
        if target.storage != self.workspace.storage:
            notes.append(f"UI storage {target.storage} takes effect on restart (still {self.workspace.storage})")
        return notes

    def _apply(self, old: EvmonConfig, new: EvmonConfig) -> list[str]:
        before, after = self._enabled(old), self._enabled(new)
        added = [name for name in after if name not in before]
        removed = [name for name in before if name not in after]
        rearmed, changed = [], []
        for name in removed:
            if self._scheduler.get_job(name) is not None:
                self._scheduler.remove_job(name)
        for name in added:
            self._arm(after[name], immediately=True)
        for name in after.keys() & before.keys():
            was, now = before[name], after[name]
            if (was.schedule, was.timezone) != (now.schedule, now.timezone):
                self._scheduler.reschedule_job(name, trigger=self._trigger_for(now))
                rearmed.append(f"{name} ({now.schedule} {now.timezone})")
            elif was.config_hash() != now.config_hash():
                changed.append(name)
        parts = [("added", added), ("removed", removed), ("re-armed", rearmed), ("settings changed", sorted(changed))]
        return [f"{label} {', '.join(names)}" for label, names in parts if names]

    def _watch(self) -> None:
        while not self._stopping.is_set():
            requested = self._reload_requested.wait(self.poll_seconds)
            if self._stopping.is_set():
                return
            if requested:
                self._reload_requested.clear()
                self.reload("SIGHUP")
            elif file_signature(self.config_path) != self._signature:
                self.reload(f"{self.config_path.name} changed")

    # --- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _enabled(config: EvmonConfig) -> dict[str, Project]:
        return {p.name: p for p in config.projects if p.enabled}

    def _arm(self, project: Project, immediately: bool) -> None:
        extra: dict[str, Any] = {"next_run_time": datetime.now(UTC)} if immediately else {}
        self._scheduler.add_job(
            self.fire,
            trigger=self._trigger_for(project),
            args=[project.name],
            id=project.name,
            name=project.name,
            replace_existing=True,
            **extra,
        )

    def _write_dashboards(self, config: EvmonConfig) -> None:
        if not self._dashboards:
            return

        def failed(name: str, exc: EvmonError) -> None:
            self._echo(f"{name}: dashboard not written: {exc}")

        for name in write_dashboards(config, self.workspace, on_error=failed):
            self._echo(f"{name}: dashboard written")

    def _on_job_event(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            self._echo(f"{event.job_id}: fire skipped, its previous run is still going")
        elif getattr(event, "exception", None) is not None:
            self._echo(f"{event.job_id}: job failed: {getattr(event, 'exception', None)!r}")
