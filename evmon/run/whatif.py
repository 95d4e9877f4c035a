"""What-if re-runs of a window, and re-runs of scheduled days, for the Streamlit app.

A what-if runs the project's report on a window of days (start..end) against the project's
reference or another window of the same source, optionally with another drift method,
threshold or set of columns. The overrides build a modified Project that is validated again,
so projects.yaml's rules still hold (a method must fit the columns' kinds, and so on). Its
fairness, outlier and explanation sections are the project's own (with `model:`, the window's
seeded sample explained against the reference chosen, as a daily run explains its day). The
result is NOT saved unless asked: `save_whatif` writes it into the workspace with the tag
'whatif', metadata evmon_kind='whatif' and a random id that can never be a daily id, so the
bridge and Grafana keep what-ifs apart from the daily series.

Re-running scheduled days is `run_many(force=True)`: exactly `evmon backfill --force`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
from pydantic import ValidationError

import evmon
from evmon.compare.values import SnapshotValues, snapshot_values
from evmon.config.loader import format_loc
from evmon.config.model import DRIFT_METHODS, EvmonConfig, Project
from evmon.config.sections import ExecutorSettings
from evmon.days import day_range, labels_arrived, snapshot_timestamp, today_in, window_utc
from evmon.errors import EvmonError
from evmon.evidently.explain import day_explain_parts
from evmon.evidently.guard import Checked, check_day
from evmon.evidently.loader import SnapshotModel, parse_snapshot, report_html, with_metadata
from evmon.evidently.report import compute_snapshot, snapshot_bytes
from evmon.run.batch import DayTask, Progress
from evmon.run.bias import BiasSections, bias_sections
from evmon.run.day import DayResult, reference_frame
from evmon.run.many import run_many
from evmon.snapshot import contract
from evmon.snapshot.ids import project_id, whatif_snapshot_id
from evmon.sources import read as sources
from evmon.storage.base import SnapshotFile, Workspace

MAX_WINDOW_DAYS = 366


class WhatIfError(EvmonError):
    """A what-if cannot run: a bad window or override, no rows, or a source that failed."""


@dataclass(frozen=True)
class Overrides:
    """What a what-if changes in the project's drift settings; None keeps the project's own."""

    method: str | None = None  # one method for every drift column
    threshold: float | None = None  # one threshold for every drift column
    columns: tuple[str, ...] | None = None  # the drift columns (features and the prediction)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.method is not None:
            out["method"] = self.method
        if self.threshold is not None:
            out["threshold"] = self.threshold
        if self.columns is not None:
            out["columns"] = list(self.columns)
        return out


@dataclass(frozen=True)
class WhatIfSpec:
    """A what-if: the current window, the reference (None: the project's own) and the overrides."""

    project: str
    start: date
    end: date
    reference: tuple[date, date] | None = None
    overrides: Overrides = field(default_factory=Overrides)

    @property
    def window(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    @property
    def reference_label(self) -> str:
        if self.reference is None:
            return "project reference"
        return f"{self.reference[0].isoformat()}..{self.reference[1].isoformat()}"


@dataclass(frozen=True)
class WhatIfResult:
    """A computed what-if, not saved."""

    spec: WhatIfSpec
    project: Project  # the modified project it ran with
    model: SnapshotModel
    payload: bytes  # the snapshot file's content, as save_whatif writes it
    values: SnapshotValues
    rows: int
    reference_rows: int
    labels_included: bool
    duration_s: float
    notes: tuple[str, ...] = ()  # what the what-if lacks and why (as a day's log says it), e.g. its fairness values


def apply_overrides(project: Project, overrides: Overrides) -> Project:
    """The project with the overrides applied, validated again like projects.yaml; WhatIfError if invalid."""
    if project.presets.data_drift is None and (overrides.method or overrides.threshold or overrides.columns):
        raise WhatIfError(f"{project.name}: the data_drift preset is off, so there is no drift setting to override")
    data = project.model_dump()
    drift = data["presets"]["data_drift"]
    if overrides.method is not None:
        if overrides.method not in DRIFT_METHODS:
            raise WhatIfError(f"unknown drift method {overrides.method!r}; expected one of {', '.join(DRIFT_METHODS)}")
        drift.update(method=overrides.method, num_method=None, cat_method=None)
        # thresholds belong to their methods (a distance vs a p-value): the new method starts
        # from Evidently's default threshold unless the threshold is overridden too
        drift.update(threshold=None, num_threshold=None, cat_threshold=None)
        for column in drift["columns"].values():
            column.update(method=None, threshold=None)
    if overrides.threshold is not None:
        drift.update(threshold=overrides.threshold, num_threshold=None, cat_threshold=None)
        for column in drift["columns"].values():
            column["threshold"] = None
    if overrides.columns is not None:
        _restrict_columns(project, data, list(overrides.columns))
    if drift is not None:
        drift["columns"] = {c: o for c, o in drift["columns"].items() if o["method"] or o["threshold"]}
    try:
        return Project.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors())
        raise WhatIfError(f"{project.name}: the overrides do not make a valid project: {problems}") from exc


def _problem(error: Mapping[str, Any]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    loc = tuple(error["loc"])
    return f"{format_loc(loc)}: {message}" if loc else message


def _restrict_columns(project: Project, data: dict[str, Any], chosen: list[str]) -> None:
    """Keep only the chosen drift columns (features, and the prediction if chosen)."""
    allowed = project.drift_columns()
    unknown = [c for c in chosen if c not in allowed]
    if unknown:
        raise WhatIfError(f"{project.name}: {', '.join(unknown)} not among the drift columns ({', '.join(allowed)})")
    if not chosen:
        raise WhatIfError(f"{project.name}: choose at least one column")
    cols = data["columns"]
    cols["numerical"] = [c for c in cols["numerical"] if c in chosen]
    cols["categorical"] = [c for c in cols["categorical"] if c in chosen]
    if not cols["numerical"] and not cols["categorical"]:
        raise WhatIfError(f"{project.name}: choose at least one feature column, not only the prediction")
    data["segments"] = [s for s in data["segments"] if s in cols["categorical"]]
    # what fairness and outliers watch is not a drift setting: run_whatif computes them with the project's own
    # sections and columns (their columns may be among those left out here, which these sections would refuse);
    # the model takes all its columns: run_whatif explains with the project's own `model` too
    data["fairness"] = data["outliers"] = data["model"] = None
    drift = data["presets"]["data_drift"]
    prediction = project.columns.prediction
    drift["include_prediction"] = prediction is not None and prediction.column in chosen
    drift["columns"] = {c: o for c, o in drift["columns"].items() if c in chosen}


def run_whatif(config: EvmonConfig, spec: WhatIfSpec, *, today: date | None = None) -> WhatIfResult:
    """Compute a what-if (nothing is written); WhatIfError or SourceError/ReportError with a clear message."""
    clock = time.perf_counter()
    base = config.project(spec.project)
    _check_window("window", spec.start, spec.end)
    if spec.reference is not None:
        _check_window("reference window", *spec.reference)
    project = apply_overrides(base, spec.overrides)
    current = _read(config, base, spec.start, spec.end)
    if current.empty:
        raise WhatIfError(f"{base.name}: the window {spec.window} has no rows")
    if spec.reference is None:
        reference = reference_frame(config, base)  # the same cached frame the daily runs use
    else:
        reference = _read(config, base, *spec.reference)
        if reference.empty:
            raise WhatIfError(f"{base.name}: the reference window {spec.reference_label} has no rows")
    local_today = today if today is not None else today_in(base.timezone)
    labelled = labels_arrived(spec.end, local_today, base.label_lag_days)
    timestamp = snapshot_timestamp(spec.start)
    try:
        # as a daily run: what the window's data allows, then the fairness and outlier sections the same way
        checked = check_day(project, current, reference, with_quality=project.has_quality and labelled)
        with_quality = project.has_quality and labelled and checked.quality
        bias = _bias_sections(base, project, checked, current, reference, labelled, timestamp)
        # the project's own model on the window's seeded sample against this reference, as a daily run explains
        explain_parts, explain_notes = day_explain_parts(config, base, current, reference, timestamp)
        model = compute_snapshot(
            project,
            current,
            reference,
            timestamp=timestamp,
            with_quality=with_quality,
            metadata=whatif_metadata(base, project, spec, rows=len(current), labels=with_quality),
            tags=list(contract.WHATIF_TAGS),
            name=f"{base.name} what-if {spec.window}",
            checked=checked,
            fairness=bias.fairness,
            extra_parts=[*bias.outlier_parts, *explain_parts],
        )
        payload = snapshot_bytes(model)
        values = snapshot_values(json.loads(payload))
    except EvmonError:
        raise
    except Exception as exc:  # like run_day: one clear message, never a traceback in the app
        raise WhatIfError(f"{base.name}: the what-if failed unexpectedly: {type(exc).__name__}: {exc}") from exc
    return WhatIfResult(
        spec=spec,
        project=project,
        model=model,
        payload=payload,
        values=values,
        rows=len(current),
        reference_rows=len(reference),
        labels_included=with_quality,
        duration_s=time.perf_counter() - clock,
        notes=(*checked.notes, *bias.notes, *explain_notes),
    )


def _bias_sections(
    base: Project,
    project: Project,
    checked: Checked,
    current: pd.DataFrame,
    reference: pd.DataFrame,
    labelled: bool,
    timestamp: datetime,
) -> BiasSections:
    """The project's own fairness and outlier sections (the overrides change drift only, not what they watch).

    With the columns restricted, the base project's frames are checked again: its sensitive and watched
    columns may be among those the what-if leaves out.
    """
    if project.columns != base.columns:
        checked = check_day(base, current, reference, with_quality=base.has_quality and labelled)
    return bias_sections(base, checked, labelled, base.has_quality and labelled and checked.quality, timestamp)


def whatif_metadata(base: Project, project: Project, spec: WhatIfSpec, *, rows: int, labels: bool) -> dict[str, str]:
    """The metadata of a what-if snapshot (all strings, as Evidently's UI shows them)."""
    return contract.whatif_metadata(
        base.name,
        rows=rows,
        labels=labels,
        config_hash=project.config_hash(),
        evmon_version=evmon.__version__,
        what=contract.WhatIfWindow(
            window=spec.window,
            start=spec.start,
            end=spec.end,
            reference=spec.reference_label,
            overrides=json.dumps(spec.overrides.as_dict(), sort_keys=True),
            base_config_hash=base.config_hash(),
        ),
    )


def save_whatif(workspace: Workspace, result: WhatIfResult, *, saved_by: str | None = None) -> SnapshotFile:
    """Write a what-if into the workspace under a fresh id (never a daily one); return its file.

    `saved_by` (the app's signed-in user) goes into the snapshot's metadata as `saved_by`.
    """
    payload = result.payload
    if saved_by is not None:
        payload = snapshot_bytes(with_metadata(result.model, contract.signed(saved_by)))
    workspace.prepare()
    base_name = result.spec.project
    pid = workspace.ensure_project(base_name, result.project.ui_description)
    return workspace.write_snapshot(pid, whatif_snapshot_id(), payload)


def stored_report_html(workspace: Workspace, project: str, snapshot_id: str) -> str:
    """The full report of a stored snapshot, from its archived original if it was compacted."""
    import uuid

    data = workspace.read_full_snapshot(project_id(project), uuid.UUID(snapshot_id))
    return report_html(parse_snapshot(data, f"snapshot {snapshot_id} of {project}"))


def rerun_days(
    config: EvmonConfig,
    project: Project,
    start: date,
    end: date,
    *,
    workspace: Workspace,
    progress: Progress | None = None,
    today: date | None = None,
    workers: int = 1,
    started_by: str | None = None,
    executor: ExecutorSettings | None = None,
) -> list[DayResult]:
    """Re-run start..end with the project's own config, replacing the daily snapshots (backfill --force)."""
    _check_window("window", start, end)
    tasks = [DayTask(project, day) for day in day_range(start, end)]
    return run_many(
        config,
        tasks,
        workspace=workspace,
        workers=workers,
        force=True,
        today=today,
        trigger="app",
        progress=progress,
        started_by=started_by,
        executor=executor,
    )


def _check_window(what: str, start: date, end: date) -> None:
    if end < start:
        raise WhatIfError(f"the {what} ends ({end}) before it starts ({start})")
    days = (end - start).days + 1
    if days > MAX_WINDOW_DAYS:
        raise WhatIfError(f"the {what} {start}..{end} has {days} days; at most {MAX_WINDOW_DAYS}")


def _read(config: EvmonConfig, project: Project, start: date, end: date) -> pd.DataFrame:
    lo, hi = window_utc(start, end, project.timezone)
    return sources.read_window(config, project, lo, hi)
