"""A day's (or a what-if window's) fairness values and outlier parts: the one path the daily run and the
what-ifs take, so a what-if of a day carries the same sections as that day's snapshot.

Never raises: a failure of these metrics is a note for the log, and the snapshot keeps its other metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from evmon.config.model import Project
from evmon.estimation.daily import EstimatedDay
from evmon.evidently.guard import Checked
from evmon.evidently.loader import SnapshotModel
from evmon.evidently.outliers import day_outlier_parts
from evmon.fairness.daily import EstimatedGroups, FairnessDay, day_fairness


@dataclass(frozen=True)
class BiasSections:
    """What compute_snapshot takes: `fairness` (None when off or failed) and `outlier_parts` (extra parts)."""

    fairness: FairnessDay | None
    outlier_parts: list[SnapshotModel]
    notes: tuple[str, ...]


def bias_sections(
    project: Project,
    checked: Checked,
    labelled: bool,
    with_quality: bool,
    timestamp: datetime,
    estimates: EstimatedDay | None = None,
) -> BiasSections:
    """The fairness and outlier sections of `checked`'s frames (evmon.evidently.guard: infinite values missing).

    `labelled`: the labels have arrived (fairness' label-needing measures); `with_quality`: the snapshot
    computes the model's quality (the outliers' quality on outlier rows and on the others); `estimates`:
    the day's estimated quality, whose per-group values (the one estimator's, with the segments') give
    each group's estimated quality and the estimated quality gap.
    """
    fairness, fairness_notes = _fairness(project, checked, labelled, estimates)
    parts, outlier_notes = day_outlier_parts(project, checked.current, checked.reference, with_quality, timestamp)
    return BiasSections(fairness, parts, (*fairness_notes, *outlier_notes))


def _fairness(
    project: Project, checked: Checked, labelled: bool, estimates: EstimatedDay | None
) -> tuple[FairnessDay | None, tuple[str, ...]]:
    """The fairness values (None when off or failed) and the notes to log."""
    if project.fairness is None:
        return None, ()
    groups = None
    if estimates is not None and estimates.group_metric is not None:
        groups = EstimatedGroups(estimates.group_metric, {(g.column, g.group): g.value for g in estimates.groups})
    try:
        day = day_fairness(project, checked.current, checked.reference, labelled, groups)
    except Exception as exc:  # a failure of these measures costs them, never the day's other metrics
        return None, (f"no fairness values: {type(exc).__name__}: {exc}",)
    return day, day.notes
