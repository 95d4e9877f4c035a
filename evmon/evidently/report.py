"""From a project's config and two DataFrames to one Evidently snapshot.

One snapshot holds up to three parts, merged into one SnapshotModel:
- the data part (DataDriftPreset, DataSummaryPreset and evmon's MissingCellsShare) on the
  features and the prediction, the same columns every day so dataset-level values (missing
  share) stay comparable; evmon.evidently.guard decides what the day's data leaves out of it
  (marked DriftNotComputed);
- the infinite-values part, on a day whose data (or reference) holds +inf or -inf: evmon's
  InfiniteValueCount per such column (the other parts see those values as missing);
- the quality part (ClassificationPreset or RegressionPreset), only when the day's labels
  have arrived;
- one quality part per segment value (``classification_name``/``regression_name`` =
  ``"<column>=<value>"``, so each segment's metrics have their own ids and labels);
- the estimated part, where the project estimates its quality (evmon.estimation.daily): one
  EstimatedQuality result per value (estimate, band, and realized, gap, inside_band once the
  labels are there), model-wide and per segment value, on labelled and unlabelled days alike;
- the fairness part, where the project has `fairness`: one FairnessValue result per value
  (evmon.evidently.fairness).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from evidently import BinaryClassification, DataDefinition, Dataset, Regression, Report
from evidently._pydantic_compat import BaseModel as EvidentlyModel
from evidently.core.serialization import ReportModel, SnapshotModel
from evidently.legacy.utils import NumpyEncoder
from evidently.metrics import MissingValueCount
from evidently.presets import ClassificationPreset, DataDriftPreset, DataSummaryPreset, RegressionPreset

import evmon  # noqa: F401  (sets DO_NOT_TRACK before Evidently is imported)
from evmon.cache import ProjectCache
from evmon.config.model import Project
from evmon.errors import ReportError
from evmon.estimation.daily import EstimatedDay
from evmon.evidently.fairness import fairness_part
from evmon.evidently.guard import Checked, check_day, segment_values
from evmon.evidently.memo import memoized
from evmon.evidently.metrics import (
    ESTIMATES_COLUMNS,
    DriftNotComputed,
    EstimatedQuality,
    InfiniteValueCount,
    MissingCellsShare,
    part_without_reference,
)
from evmon.fairness.daily import FairnessDay


def data_part_columns(project: Project) -> list[str]:
    """The columns of the data part: features and the prediction."""
    cols = project.columns
    extra = [cols.prediction.column] if cols.prediction is not None else []
    return [*cols.features(), *extra]


def _definition(project: Project, with_target: bool, task_name: str = "default") -> DataDefinition:
    cols = project.columns
    numerical, categorical = list(cols.numerical), list(cols.categorical)
    pred = cols.prediction
    classification = None
    regression = None
    if pred is not None:
        (categorical if pred.kind == "label" else numerical).append(pred.column)
    if with_target and cols.target is not None and pred is not None:
        if pred.kind == "regression":
            numerical.append(cols.target)
            regression = [Regression(name=task_name, target=cols.target, prediction=pred.column)]
        else:
            categorical.append(cols.target)
            column_arg = (
                {"prediction_probas": pred.column} if pred.kind == "probability" else {"prediction_labels": pred.column}
            )
            classification = [
                BinaryClassification(name=task_name, target=cols.target, pos_label=cols.positive_label, **column_arg)
            ]
    return DataDefinition(
        numerical_columns=numerical,
        categorical_columns=categorical,
        classification=classification,
        regression=regression,
    )


def _data_metrics(project: Project, checked: Checked) -> list[Any]:
    metrics: list[Any] = []
    drift = project.presets.data_drift
    columns = checked.drift_columns(project)
    if drift is not None and columns:
        metrics.append(
            DataDriftPreset(
                columns=columns,
                method=drift.method,
                num_method=drift.num_method,
                cat_method=drift.cat_method,
                threshold=drift.threshold,
                num_threshold=drift.num_threshold,
                cat_threshold=drift.cat_threshold,
                drift_share=drift.drift_share,
                per_column_method={c: o.method for c, o in drift.columns.items() if o.method and c in columns} or None,
                per_column_threshold={c: o.threshold for c, o in drift.columns.items() if o.threshold and c in columns}
                or None,
            )
        )
    if project.presets.data_summary is not None:
        # a column of too many categories: its missing values counted, not each of its values
        uncounted = checked.too_many_categories
        metrics.append(DataSummaryPreset(columns=[c for c in data_part_columns(project) if c not in uncounted]))
        metrics.append(MissingCellsShare(columns=data_part_columns(project)))
        metrics += [MissingValueCount(column=column) for column in uncounted]
    metrics += [DriftNotComputed(column=column, reason=reason) for column, reason in checked.not_drifted]
    return metrics


def _quality_metric(project: Project, task_name: str) -> Any:
    presets = project.presets
    if presets.classification is not None:
        return ClassificationPreset(
            classification_name=task_name, probas_threshold=presets.classification.probas_threshold
        )
    return RegressionPreset(regression_name=task_name)


class _ReferenceDatasets:
    """Evidently's Datasets of one reference frame, by the columns and roles they were made with.

    Evidently caches what it computes about a Dataset inside it, so a reference reused for
    every day (as the seed's loop does) is not analysed again each day: about 5% of a day's
    Report.run on the demo. The same holds for each segment value's rows of the reference (and
    filtering them out of it), which every day's per-segment quality parts would otherwise redo.
    Kept per project and role (evmon.cache) under the frame object's identity (evmon.run.day hands
    out the same frame while the project's reference is unchanged, and evmon.evidently.guard the
    same labelled rows of it; the frame is held here, so its identity cannot be reused by another
    frame meanwhile).
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.datasets: dict[str, Dataset] = {}
        self.segments: dict[tuple[str, object], pd.DataFrame] = {}

    def rows(self, segment: tuple[str, object] | None) -> pd.DataFrame:
        """The whole frame, or the rows of one segment value (column, value)."""
        if segment is None:
            return self.frame
        if segment not in self.segments:
            column, value = segment
            self.segments[segment] = self.frame[self.frame[column] == value]
        return self.segments[segment]

    def get(self, definition: DataDefinition, columns: list[str], segment: tuple[str, object] | None = None) -> Dataset:
        key = repr((segment, columns, definition.dict()))
        if key not in self.datasets:
            self.datasets[key] = Dataset.from_pandas(self.rows(segment)[columns], data_definition=definition)
        return self.datasets[key]


# two frames a project (the reference, its labelled rows), each with its segment values' Datasets
_REFERENCE_DATASETS: ProjectCache[_ReferenceDatasets] = ProjectCache("reference datasets", size=16)


def _held(reuse_for: str | None, role: str, frame: pd.DataFrame | None) -> _ReferenceDatasets | None:
    """The project's kept Datasets of `frame` (None: not reused, or no reference)."""
    if reuse_for is None or frame is None:
        return None
    return _REFERENCE_DATASETS.get(f"{reuse_for} {role}", id(frame), lambda: _ReferenceDatasets(frame))


def _run(
    metrics: Sequence[Any],
    definition: DataDefinition,
    current: pd.DataFrame,
    reference: pd.DataFrame | None,
    timestamp: datetime,
    held: _ReferenceDatasets | None = None,
    segment: tuple[str, object] | None = None,
) -> SnapshotModel:
    """One Report; `held` (then `reference` is its rows of `segment`) gives the reference's Dataset."""
    columns = [*definition.get_numerical_columns(), *definition.get_categorical_columns()]
    with warnings.catch_warnings():
        # scikit-learn and numpy warn on degenerate windows (one class, one sample); the
        # values Evidently stores for them (NaN) say the same thing
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=RuntimeWarning)
        cur = Dataset.from_pandas(current[columns], data_definition=definition)
        if reference is None:
            ref = None
        elif held is not None:
            ref = held.get(definition, columns, segment)
        else:
            ref = Dataset.from_pandas(reference[columns], data_definition=definition)
        with memoized():
            return Report(list(metrics)).run(cur, ref, timestamp=timestamp).to_snapshot_model()


def compute_snapshot(
    project: Project,
    current: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    timestamp: datetime,
    with_quality: bool,
    metadata: dict[str, str],
    tags: list[str],
    name: str,
    segments: bool = True,
    reuse_reference: bool = False,
    estimates: EstimatedDay | None = None,
    checked: Checked | None = None,
    fairness: FairnessDay | None = None,
    extra_parts: Sequence[SnapshotModel] = (),
) -> SnapshotModel:
    """Run the project's presets on `current` against `reference`: one merged snapshot.

    reuse_reference=True keeps Evidently's Dataset of `reference` for the next call with the
    same frame object (the runner's per-process reference cache): same values, less work.
    `estimates` (evmon.estimation.daily) become the snapshot's EstimatedQuality results, `fairness`
    (evmon.fairness.daily) its FairnessValue results.
    `checked` is evmon.evidently.guard's check of these frames (made here when not given): what
    the Report leaves out (columns without values, infinite values, too many categories).
    `extra_parts` (e.g. evmon.evidently.outliers') are merged in after the rest.
    """
    parts: list[SnapshotModel] = []
    reuse_for = project.name if reuse_reference else None
    if checked is None:
        checked = check_day(project, current, reference, with_quality=with_quality, reuse_reference=reuse_reference)
    current, reference = checked.current, checked.reference
    try:
        data_metrics = _data_metrics(project, checked)
        if data_metrics:
            held = _held(reuse_for, "reference", reference)
            parts.append(_run(data_metrics, _definition(project, False), current, reference, timestamp, held))
        if checked.infinite:
            parts.append(_infinite_part(checked, timestamp))
        if with_quality and project.has_quality and checked.labelled_current is not None:
            labelled, labelled_reference = checked.labelled_current, checked.labelled_reference
            quality = [_quality_metric(project, "default")]
            held = _held(reuse_for, "labelled reference", labelled_reference)
            parts.append(_run(quality, _definition(project, True), labelled, labelled_reference, timestamp, held))
            if segments:
                parts.extend(_segment_parts(project, labelled, labelled_reference, timestamp, held))
        if estimates is not None and estimates.values:
            parts.append(estimated_part(estimates, timestamp))
        if fairness is not None and fairness.values:
            parts.append(fairness_part(fairness, timestamp))
        parts.extend(extra_parts)
    except (ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
        raise ReportError(
            f"{project.name}: Evidently could not compute the report: {type(exc).__name__}: {exc}"
        ) from exc
    if not parts:
        raise ReportError(f"{project.name}: no preset applies to this day (quality presets need labels)")
    merged = merge(parts)
    merged.name = name
    merged.metadata = dict(metadata)
    merged.tags = list(tags)
    return merged


def _segment_parts(
    project: Project,
    current: pd.DataFrame,
    reference: pd.DataFrame | None,
    timestamp: datetime,
    held: _ReferenceDatasets | None,
) -> list[SnapshotModel]:
    """One quality part per segment value; `held`: the reference's rows and Datasets per value, kept."""
    parts = []
    for column in project.segments:
        for value in segment_values(current, column):
            task = f"{column}={value}"
            cur = current[current[column] == value]
            if reference is None:
                ref = pd.DataFrame()
            elif held is not None:
                ref = held.rows((column, value))
            else:
                ref = reference[reference[column] == value]
            parts.append(
                _run(
                    [_quality_metric(project, task)],
                    _definition(project, True, task),
                    cur,
                    ref if not ref.empty else None,
                    timestamp,
                    held,
                    (column, value),
                )
            )
    return parts


def _infinite_part(checked: Checked, timestamp: datetime) -> SnapshotModel:
    """The infinite values of the columns that have any, counted in the frames as read."""
    columns = list(checked.infinite)
    definition = DataDefinition(numerical_columns=columns)
    metrics = [InfiniteValueCount(column=column) for column in columns]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # Dataset's own statistics of infinite values
        current = Dataset.from_pandas(checked.raw_current[columns], data_definition=definition)
        reference = Dataset.from_pandas(checked.raw_reference.reindex(columns=columns), data_definition=definition)
        return Report(metrics).run(current, reference, timestamp=timestamp).to_snapshot_model()


def estimated_part(estimates: EstimatedDay, timestamp: datetime) -> SnapshotModel:
    """The day's estimates as EstimatedQuality results, each reading its value from the table of them."""
    table = pd.DataFrame(
        [(v.metric, v.segment, v.value_kind, v.value) for v in estimates.values], columns=ESTIMATES_COLUMNS
    )
    metrics = [
        EstimatedQuality(
            metric=v.metric, value_kind=v.value_kind, method=estimates.method, **{estimates.task_param: v.segment}
        )
        for v in estimates.values
    ]
    definition = DataDefinition(numerical_columns=["value"], categorical_columns=["metric", "segment", "value_kind"])
    return part_without_reference(metrics, table, definition, timestamp)


def merge(parts: Sequence[SnapshotModel]) -> SnapshotModel:
    """One snapshot holding every part's results and widgets, in order."""
    first = parts[0]
    results: dict[str, Any] = {}
    for part in parts:
        clash = results.keys() & part.metric_results.keys()
        if clash:
            raise ReportError(f"two report parts computed the same metric ids: {sorted(clash)[:3]}")
        results.update(part.metric_results)
    return SnapshotModel(
        report=ReportModel(items=[item for p in parts for item in p.report.items]),
        name=first.name,
        timestamp=first.timestamp,
        metadata=dict(first.metadata),
        tags=list(first.tags),
        metric_results=results,
        top_level_metrics=[m for p in parts for m in p.top_level_metrics],
        widgets=[w for p in parts for w in p.widgets],
        tests_widgets=[w for p in parts for w in p.tests_widgets],
    )


class _SnapshotEncoder(NumpyEncoder):
    """Evidently's encoder, fed the models' fields directly instead of a deep .dict() copy.

    Byte-identical to ``json.dumps(model.dict(), cls=NumpyEncoder)`` (what Evidently's own
    workspace writes; tests check it) and about 6x faster on a 3.6 MB snapshot.
    """

    def default(self, o: Any) -> Any:
        if isinstance(o, EvidentlyModel):
            return o.__dict__
        return super().default(o)


def snapshot_bytes(model: SnapshotModel) -> bytes:
    """The snapshot file's content, as Evidently writes it (NaN stays NaN)."""
    return json.dumps(model, cls=_SnapshotEncoder).encode()
