"""A day's explanations (evmon.explain.daily) as Evidently metrics, in one part of the daily snapshot.

AttributionNdcg: the nDCG of the day's ranking of the model's columns by mean |SHAP| against the
reference's (evmon.explain.ranking); FeatureAttribution: per column, of the day's sample or the
reference's (`sample`), its mean |SHAP| (kind mean_abs), its share of the total (share), and the
day's share less the reference's (share_change). Plain SingleValue results the stock `evidently ui`
plots without importing evmon; like FairnessValue they read their values from a table of the day's
figures (EXPLAIN_COLUMNS), so a value is not a param and a series keeps its id day after day.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset
from evidently.core.metric_types import SingleValueCalculation, SingleValueMetric
from evidently.core.serialization import SnapshotModel

import evmon  # noqa: F401  (sets DO_NOT_TRACK before Evidently is used)
from evmon.config.model import EvmonConfig, Project
from evmon.evidently.metrics import part_without_reference
from evmon.explain.daily import ExplainDay, day_explanations
from evmon.sources.read import located

EXPLAIN_COLUMNS = ["column", "sample", "kind", "value"]
_NDCG = ""  # the table's column of the nDCG


class AttributionNdcg(SingleValueMetric):
    """The day's ranking of the model's columns by mean |SHAP| against the reference's: nDCG in [0, 1]."""

    explainer: str  # tree, linear or permutation
    top_k: int | None = None


class AttributionNdcgCalculation(SingleValueCalculation[AttributionNdcg]):
    def calculate(self, context: Any, current_data: Dataset, reference_data: Dataset | None) -> Any:
        return self.result(_value(current_data.as_dataframe(), _NDCG, "day", "ndcg")), None

    def display_name(self) -> str:
        ranks = f"top {self.metric.top_k}" if self.metric.top_k else "all columns"
        return (
            f"Attribution drift: nDCG of the day's SHAP ranking vs the reference's ({ranks}, {self.metric.explainer})"
        )


class FeatureAttribution(SingleValueMetric):
    """One column's attribution: mean_abs (mean |SHAP|), share (of the total), share_change (day less reference)."""

    column: str
    sample: str  # day or reference
    kind: str


class FeatureAttributionCalculation(SingleValueCalculation[FeatureAttribution]):
    def calculate(self, context: Any, current_data: Dataset, reference_data: Dataset | None) -> Any:
        m = self.metric
        return self.result(_value(current_data.as_dataframe(), m.column, m.sample, m.kind)), None

    def display_name(self) -> str:
        m = self.metric
        what = {"mean_abs": "mean |SHAP|", "share": "share of attribution", "share_change": "change of share"}
        return f"Attribution of {m.column}: {what.get(m.kind, m.kind)} ({m.sample})"


def _value(table: pd.DataFrame, column: str, sample: str, kind: str) -> float:
    rows = table[(table["column"] == column) & (table["sample"] == sample) & (table["kind"] == kind)]
    return float(rows["value"].iloc[0]) if len(rows) else math.nan


def explain_part(day: ExplainDay, timestamp: datetime) -> SnapshotModel:
    """The day's nDCG, then each column's attribution (largest today first)."""
    rows: list[tuple[str, str, str, float]] = [(_NDCG, "day", "ndcg", day.ndcg)]
    metrics: list[Any] = [AttributionNdcg(explainer=day.explainer, top_k=day.settings.top_k)]
    for c in day.columns:
        for sample, kind, value in (
            ("day", "mean_abs", c.mean_abs),
            ("reference", "mean_abs", c.reference_mean_abs),
            ("day", "share", c.share),
            ("reference", "share", c.reference_share),
            ("day", "share_change", c.share_change),
        ):
            rows.append((c.column, sample, kind, value))
            metrics.append(FeatureAttribution(column=c.column, sample=sample, kind=kind))
    table = pd.DataFrame(rows, columns=EXPLAIN_COLUMNS)
    definition = DataDefinition(numerical_columns=["value"], categorical_columns=["column", "sample", "kind"])
    return part_without_reference(metrics, table, definition, timestamp)


def day_explain_parts(
    config: EvmonConfig, project: Project, current: pd.DataFrame, reference: pd.DataFrame, timestamp: datetime
) -> tuple[list[SnapshotModel], tuple[str, ...]]:
    """The day's explanation part (none without `model:`) and notes for the day's log.

    Never raises: a model that cannot be loaded or explained, or predicts NaN, is one note (`no
    explanations: ...`), and the day keeps its other metrics.
    """
    if project.model is None:
        return [], ()
    try:
        day = day_explanations(project, located(config, project.model.path), current, reference)
        return [explain_part(day, timestamp)], tuple(f"explanations: {note}" for note in day.notes)
    except Exception as exc:  # any failure here must leave the day's other metrics
        return [], (f"no explanations: {_reason(exc)}",)


def _reason(exc: Exception) -> str:
    from evmon.errors import EvmonError

    return str(exc) if isinstance(exc, EvmonError) else f"{type(exc).__name__}: {exc}"
