"""A day's explanations: the SHAP attributions of a seeded sample of its rows against the reference's.

The model file is read once per process while it is unchanged (its size and version: a ProjectCache);
the explainer, the reference's background and the reference's attributions once while the project's
settings, reference frame and model file are unchanged (another ProjectCache, beside the project's
other fitted state). Each day: the sample (model.sample_rows rows, seeded by model.seed: a re-run gives
the same rows), the model's predictions checked (NaN or infinity is an error naming the count), the
SHAP values, their mean |SHAP| per column, the nDCG against the reference's and each column's share.
A problem (a missing or corrupt file, other columns, NaN predictions) raises ExplainError: the
caller logs it as one line, and the day keeps its other metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from evmon.cache import ProjectCache
from evmon.config.explain import ModelFile
from evmon.config.model import Project
from evmon.errors import ExplainError
from evmon.explain.model import LoadedModel, checked_inputs, file_key, load_model, predictions
from evmon.explain.ranking import ColumnAttribution, ndcg, shares
from evmon.explain.shapley import Attributions, Explainer, build_explainer


@dataclass(frozen=True)
class ExplainDay:
    settings: ModelFile
    explainer: str  # tree, linear or permutation
    rows: int  # the day's rows explained
    ndcg: float
    columns: tuple[ColumnAttribution, ...]  # largest attribution today first
    notes: tuple[str, ...]
    sample: pd.DataFrame  # the day's sampled rows (model columns), for one row's waterfall
    attributions: Attributions  # their SHAP values

    @property
    def alert(self) -> bool:
        """The nDCG is below the project's threshold (a NaN nDCG is no alert)."""
        return not math.isnan(self.ndcg) and self.ndcg < self.settings.thresholds.ndcg_min


@dataclass(frozen=True)
class _Fitted:
    frame: pd.DataFrame  # held: the cache's fingerprint is its id
    model: LoadedModel
    explainer: Explainer
    reference: dict[str, float]  # the reference sample's mean |SHAP| per column
    notes: tuple[str, ...]


_MODELS: ProjectCache[LoadedModel] = ProjectCache("model files", size=8)
_FITTED: ProjectCache[_Fitted] = ProjectCache("reference attributions", size=8)


def sampled(frame: pd.DataFrame, settings: ModelFile) -> pd.DataFrame:
    """The seeded sample of `frame`'s rows (all of them when fewer), in their order."""
    if len(frame) <= settings.sample_rows:
        return frame
    return frame.sample(n=settings.sample_rows, random_state=settings.seed).sort_index()


def model_of(project: Project, path: str) -> LoadedModel:
    """The project's model (project.model must be set), read again when its file changed."""
    settings = _settings(project)
    key = file_key(path)
    if key is None:
        raise ExplainError(f"model file {path} does not exist (model.path {settings.path!r})")
    return _MODELS.get(project.name, key, lambda: load_model(path, settings))


def fitted_reference(project: Project, path: str, reference: pd.DataFrame) -> _Fitted:
    """The explainer and the reference's attributions, kept while the settings, reference and file hold."""
    settings = _settings(project)
    model = model_of(project, path)

    def build() -> _Fitted:
        inputs = checked_inputs(model, reference, settings.columns)
        if inputs.empty:
            raise ExplainError("the reference has no rows to explain")
        background = inputs.sample(n=min(settings.background_rows, len(inputs)), random_state=settings.seed)
        explainer, notes = build_explainer(model.estimator, background, settings)
        rows = sampled(inputs, settings)
        try:
            predictions(model, rows)
        except ExplainError as exc:
            raise ExplainError(f"on the reference: {exc}") from exc
        attributions = explainer.explain(rows)
        return _Fitted(reference, model, explainer, attributions.mean_abs(), (*notes, *attributions.notes))

    fingerprint = (project.config_hash(), id(reference), file_key(path))
    return _FITTED.get(project.name, fingerprint, build)


def day_explanations(project: Project, path: str, current: pd.DataFrame, reference: pd.DataFrame) -> ExplainDay:
    """The day's explanations (project.model must be set; `path` is model.path located); ExplainError if not."""
    settings = _settings(project)
    fitted = fitted_reference(project, path, reference)
    inputs = checked_inputs(fitted.model, current, settings.columns)
    rows = sampled(inputs, settings)
    predictions(fitted.model, rows)
    attributions = fitted.explainer.explain(rows)
    means = attributions.mean_abs()
    notes = (*fitted.model.notes, *fitted.notes, *attributions.notes)
    return ExplainDay(
        settings,
        fitted.explainer.kind,
        len(attributions.values),
        ndcg(means, fitted.reference, settings.top_k),
        tuple(shares(means, fitted.reference)),
        notes,
        rows.iloc[: len(attributions.values)],
        attributions,
    )


def _settings(project: Project) -> ModelFile:
    if project.model is None:
        raise ValueError(f"{project.name}: no model is configured")
    return project.model
