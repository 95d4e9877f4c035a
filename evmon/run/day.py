"""Run one project-day end to end: read, report, write one snapshot, log the run.

Every caller (the CLI, backfill workers, the scheduler, the Streamlit app) goes through the
same three steps, so a project-day is handled the same way everywhere: under a per-day lock
(before_day), computed wherever its data can be read (compute_day: here, in a worker process
or on a Dask worker), then stored by the workspace's owner (store_day), with one deterministic
snapshot id (a re-run replaces the file) and one run-log row. run_day does all three here.

A day fails on its own, never the others: a workspace that cannot be reached (the UI's database
down mid-backfill) fails the days that meet it, each logged; a run log that cannot be written (a
full disk) leaves the day's outcome as it was and its line says the run was not recorded.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import pandas as pd

import evmon
from evmon.cache import ProjectCache
from evmon.config.model import EvmonConfig, FileSource, Project
from evmon.days import day_window_utc, labels_arrived, snapshot_timestamp, today_in
from evmon.errors import EstimationError, EvmonError, RunLogError
from evmon.estimation import daily as estimated
from evmon.estimation.conformal import RECORD_DAYS
from evmon.evidently.explain import day_explain_parts
from evmon.evidently.guard import check_day
from evmon.evidently.report import compute_snapshot, snapshot_bytes
from evmon.run.bias import bias_sections
from evmon.snapshot import contract
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.sources import read as sources
from evmon.storage.base import Workspace
from evmon.storage.runlog import RunLog, RunRecord

Outcome = Literal["ok", "skipped", "failed", "exists", "busy"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DayResult:
    """What happened to one project-day."""

    project: str
    day: date
    outcome: Outcome
    duration_s: float = 0.0
    rows: int | None = None
    labels_included: bool | None = None
    snapshot_id: str | None = None
    error: str | None = None
    report_s: float = 0.0
    meanwhile: bool = False  # exists: another process ran the day while this one planned it
    unlogged: str | None = None  # why the run log lacks this run (a full disk), if it does

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"

    def line(self) -> str:
        """One log line, as the CLI, the scheduler, the demo and the app print it (none names its own options)."""
        unlogged = f" (run not recorded: {self.unlogged})" if self.unlogged else ""
        return f"{self.project} {self.day} {self.outcome}: {self._what()}{unlogged}"

    def _what(self) -> str:
        if self.outcome == "ok":
            labels = "with labels" if self.labels_included else "without labels"
            return f"{self.rows} rows, {labels}, {self.duration_s:.1f}s"
        if self.outcome == "skipped":
            return "no rows"
        if self.outcome == "exists":
            return "another process ran this day meanwhile" if self.meanwhile else "snapshot already there"
        if self.outcome == "busy":
            return "another process is running this day"
        return f"{self.error}"


REFERENCES: ProjectCache[pd.DataFrame] = ProjectCache("reference frames")


def reference_frame(config: EvmonConfig, project: Project) -> pd.DataFrame:
    """The project's reference rows, read once per process while its settings and files are unchanged."""
    fingerprint = (project.config_hash(), _source_fingerprint(config, project))
    return REFERENCES.get(project.name, fingerprint, lambda: sources.read_reference(config, project))


def _source_fingerprint(config: EvmonConfig, project: Project) -> tuple[tuple[str, int, int | str], ...]:
    """Names, sizes and versions of the files the reference comes from (local or on a store; empty for SQL)."""
    source = project.source
    path = project.reference.path or (source.path if isinstance(source, FileSource) else None)
    if path is None:
        return ()
    try:
        return tuple(file.key for file in sources.source_files(config, path))
    except (OSError, EvmonError):  # unlistable now: reading the reference will say why
        return ()


@dataclass(frozen=True)
class Computed:
    """A project-day computed (here, in a worker process or on a Dask worker) and not yet stored.

    Computing needs the project's data only, never the workspace: the process that owns the
    workspace stores it (store_day), under the day's lock it took before the computation.
    """

    status: Literal["ok", "skipped", "failed"]
    rows: int | None = None
    labels: bool = False
    payload: bytes | None = None  # the snapshot file's bytes, when ok
    error: str | None = None
    report_s: float = 0.0
    compute_s: float = 0.0
    notes: tuple[str, ...] = ()  # what an ok day lacks, e.g. its estimates and why; logged where it is stored


def run_day(
    config: EvmonConfig,
    project: Project,
    day: date,
    *,
    workspace: Workspace,
    today: date | None = None,
    force: bool = True,
    trigger: str = "cli",
    still_due: Callable[[], bool] | None = None,
    started_by: str | None = None,
) -> DayResult:
    """Compute and store the daily snapshot of `project` for `day`, in this process.

    force=False leaves an existing snapshot alone (outcome "exists"). A day another process
    is running is not waited for (outcome "busy", logged as such). `still_due`, if given, is
    asked once the day's lock is held: False means another process did the day meanwhile
    (outcome "exists"), so two schedulers that planned the same day never both run it. Errors
    of this project-day are recorded and returned, never raised: the other projects and days go
    on. `started_by` names who asked for the run, where known (the app's signed-in user).
    """
    with contextlib.ExitStack() as held:
        try:
            locked = held.enter_context(workspace.day_lock(project.name, day))
        except EvmonError as exc:  # the lock's folder cannot be written (a full disk)
            return failed_day(workspace, project, day, str(exc), trigger, started_by)
        early = before_day(workspace, project, day, locked, force, still_due, trigger, started_by)
        if early is not None:
            return early
        started, clock = datetime.now(UTC), time.perf_counter()
        computed = compute_day(config, project, day, today)
        return store_day(workspace, project, day, computed, started, time.perf_counter() - clock, trigger, started_by)


def failed_day(
    workspace: Workspace, project: Project, day: date, error: str, trigger: str, started_by: str | None
) -> DayResult:
    """A day that failed before it was computed (the workspace unreachable): logged, and its result."""
    unlogged = _log_uncomputed(workspace, project, day, "failed", error, trigger, started_by)
    return DayResult(project.name, day, "failed", error=error, unlogged=unlogged)


def _log_uncomputed(
    workspace: Workspace,
    project: Project,
    day: date,
    status: Literal["failed", "busy"],
    error: str,
    trigger: str,
    started_by: str | None,
) -> str | None:
    """Log a run that ended before computing anything (now, no duration); None, or why it is not logged."""
    record = RunRecord(
        project=project.name,
        day=day,
        status=status,
        started_at=datetime.now(UTC),
        duration_s=0.0,
        trigger=trigger,
        config_hash=project.config_hash(),
        evmon_version=evmon.__version__,
        error=error,
        started_by=started_by,
    )
    return _logged(RunLog(workspace.evmon_dir), record)


def _logged(run_log: RunLog, record: RunRecord) -> str | None:
    """Append the run; None, or why the run log could not take it (the day's line then says so)."""
    try:
        run_log.append(record)
    except RunLogError as exc:
        return str(exc)
    return None


def before_day(
    workspace: Workspace,
    project: Project,
    day: date,
    locked: bool,
    force: bool,
    still_due: Callable[[], bool] | None,
    trigger: str,
    started_by: str | None,
) -> DayResult | None:
    """What happens to a day before computing it, its lock taken (or not): None means compute it.

    Never raises for the workspace: a day it cannot reach (the UI's database down) is a failed day.
    """
    sid = daily_snapshot_id(project.name, day)
    if not locked:
        busy = "another process was running this project-day"
        unlogged = _log_uncomputed(workspace, project, day, "busy", busy, trigger, started_by)
        return DayResult(project.name, day, "busy", unlogged=unlogged)
    try:
        pid = workspace.ensure_project(project.name, project.ui_description)
        if not force and workspace.snapshot_exists(pid, sid):
            unlogged = _log_unlogged_snapshot(workspace, project, day)
            return DayResult(project.name, day, "exists", snapshot_id=str(sid), unlogged=unlogged)
        if still_due is not None and not still_due():
            return DayResult(project.name, day, "exists", snapshot_id=str(sid), meanwhile=True)
    except EvmonError as exc:
        return failed_day(workspace, project, day, str(exc), trigger, started_by)
    return None


def compute_day(config: EvmonConfig, project: Project, day: date, today: date | None) -> Computed:
    """Read the day's rows and compute its snapshot; never raises (a failure is a Computed too).

    Pure with respect to the workspace: it runs wherever the data can be read.
    """
    clock = time.perf_counter()
    rows: int | None = None
    try:
        start, end = day_window_utc(day, project.timezone)
        current = sources.read_window(config, project, start, end)
        rows = len(current)
        if current.empty:
            return Computed("skipped", rows=0, compute_s=time.perf_counter() - clock)
        reference = reference_frame(config, project)
        local_today = today if today is not None else today_in(project.timezone)
        labelled = labels_arrived(day, local_today, project.label_lag_days)
        # what the day's data lets the Report compute (a column without values, infinite values, ...)
        checked = check_day(
            project, current, reference, with_quality=project.has_quality and labelled, reuse_reference=True
        )
        with_quality = project.has_quality and labelled and checked.quality
        # the empirical band's track record: the earlier days whose labels have arrived
        record_days = [
            earlier
            for back in range(1, RECORD_DAYS + 1)
            if labels_arrived(earlier := day - timedelta(days=back), local_today, project.label_lag_days)
        ]
        estimates, notes, estimation = _estimates(
            config, project, checked.current, checked.reference, labelled, record_days
        )
        bias = bias_sections(project, checked, labelled, with_quality, snapshot_timestamp(day), estimates)
        explain_parts, explain_notes = day_explain_parts(config, project, current, reference, snapshot_timestamp(day))
        notes = (*checked.notes, *notes, *bias.notes, *explain_notes)
        # computed with the day's labels: its quality, or (a project that only estimates) its realized values
        with_labels = with_quality or (estimates is not None and estimates.labelled)
        report_clock = time.perf_counter()
        model = compute_snapshot(
            project,
            current,
            reference,
            timestamp=snapshot_timestamp(day),
            with_quality=with_quality,
            metadata=contract.daily_metadata(
                project.name,
                day,
                rows=rows,
                labels=with_labels,
                config_hash=project.config_hash(),
                evmon_version=evmon.__version__,
                prediction_column=project.columns.prediction.column if project.columns.prediction else "",
                estimation=estimation,
            ),
            tags=contract.daily_tags(with_labels),
            name=f"{project.name} {day.isoformat()}",
            reuse_reference=True,
            estimates=estimates,
            checked=checked,
            fairness=bias.fairness,
            extra_parts=[*bias.outlier_parts, *explain_parts],
        )
        payload = snapshot_bytes(model)
        report_s = time.perf_counter() - report_clock
        compute_s = time.perf_counter() - clock
        return Computed("ok", rows, with_labels, payload, report_s=report_s, compute_s=compute_s, notes=notes)
    except EvmonError as exc:
        message = str(exc)
    except Exception as exc:  # an unexpected failure of one project-day must not stop the others
        message = f"{project.name}: unexpected {type(exc).__name__}: {exc}"
    return Computed("failed", rows, error=message, compute_s=time.perf_counter() - clock)


def _estimates(
    config: EvmonConfig,
    project: Project,
    current: pd.DataFrame,
    reference: pd.DataFrame,
    labelled: bool,
    record_days: list[date],
) -> tuple[estimated.EstimatedDay | None, tuple[str, ...], contract.Estimation | None]:
    """The day's estimated quality (None when off or not computable), notes to log, what the snapshot records."""
    if project.presets.estimation is None:
        return None, (), None
    try:
        day = estimated.day_estimates(config, project, current, reference, labelled, record_days)
    except EstimationError as exc:
        cause = str(exc).removeprefix(f"{project.name}: ")
        return None, (f"no estimated quality: {cause}",), contract.Estimation(error=cause)
    notes = tuple(f"estimated quality: {note}" for note in day.notes)
    return day, notes, contract.Estimation(rows=day.rows, dropped_rows=day.dropped)


def store_day(
    workspace: Workspace,
    project: Project,
    day: date,
    computed: Computed,
    started_at: datetime,
    duration_s: float,
    trigger: str,
    started_by: str | None,
) -> DayResult:
    """Write a computed day's snapshot (atomically) and its run-log row; the caller holds the day's lock."""
    record = RunRecord(
        project=project.name,
        day=day,
        status=computed.status,
        started_at=started_at,
        duration_s=duration_s,
        trigger=trigger,
        rows=computed.rows,
        config_hash=project.config_hash(),
        evmon_version=evmon.__version__,
        error=computed.error,
        started_by=started_by,
    )
    run_log = RunLog(workspace.evmon_dir)
    for note in computed.notes:
        log.warning("%s %s: %s", project.name, day, note)
    if computed.status == "ok" and computed.payload is not None:
        sid = daily_snapshot_id(project.name, day)
        try:
            pid = workspace.ensure_project(project.name, project.ui_description)
            workspace.write_snapshot(pid, sid, computed.payload)
        except EvmonError as exc:
            unlogged = _logged(run_log, replace(record, status="failed", error=str(exc)))
            return DayResult(project.name, day, "failed", duration_s, computed.rows, error=str(exc), unlogged=unlogged)
        unlogged = _logged(run_log, replace(record, labels_included=computed.labels, snapshot_id=str(sid)))
        return DayResult(
            project.name,
            day,
            "ok",
            duration_s,
            computed.rows,
            computed.labels,
            str(sid),
            report_s=computed.report_s,
            unlogged=unlogged,
        )
    unlogged = _logged(run_log, record)
    if computed.status == "skipped":
        return DayResult(project.name, day, "skipped", duration_s, rows=0, unlogged=unlogged)
    return DayResult(project.name, day, "failed", duration_s, computed.rows, error=computed.error, unlogged=unlogged)


def recover_unlogged_run(workspace: Workspace, project: Project, day: date) -> str | None:
    """Log the run of a day whose snapshot exists but whose run was never logged (see below).

    Under the day's lock: a process running the day right now logs it itself. None, or why the
    run log could not take it; a workspace that cannot be read raises (EvmonError).
    """
    with workspace.day_lock(project.name, day) as locked:
        return _log_unlogged_snapshot(workspace, project, day) if locked else None


def _log_unlogged_snapshot(workspace: Workspace, project: Project, day: date) -> str | None:
    """A run killed between writing its snapshot and logging it: log that run from the snapshot.

    The snapshot is the truth; the run log (service health) must not show the day as never run.
    None, or why the run log could not be read or written.
    """
    run_log = RunLog(workspace.evmon_dir)
    try:
        if run_log.has_ok(project.name, day):
            return None
    except RunLogError as exc:
        return str(exc)
    pid, sid = project_id(project.name), daily_snapshot_id(project.name, day)
    if not workspace.snapshot_exists(pid, sid):
        return None
    meta = contract.meta_of(workspace.read_snapshot_header(pid, sid))
    written = workspace.written_at(pid, sid)
    return _logged(
        run_log,
        RunRecord(
            project=project.name,
            day=day,
            status="ok",
            started_at=written,
            duration_s=0.0,
            trigger="recovered",
            rows=meta.rows,
            labels_included=meta.labels is True,
            snapshot_id=str(sid),
            config_hash=meta.config_hash,
            evmon_version=meta.evmon_version,
        ),
    )
