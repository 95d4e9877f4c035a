"""SHAP values of a model on a sample of rows, by the explainer chosen for it, per column it takes.

'auto' tries, on the model's last step: shap's TreeExplainer (tree ensembles: scikit-learn's
forests and gradient boosting, XGBoost, LightGBM; tree-path-dependent, no background needed),
then its LinearExplainer (a model with `coef_`: its masker is the reference's background sample);
otherwise the model-agnostic PermutationExplainer on the whole model's output with the reference's
background sample, rows explained until `max_seconds` (the rows it reached are the day's figures,
and a note says how many).

A Pipeline is explained at its last step, on its earlier steps' output; the values of the features
one column becomes (a one-hot encoder's) are summed back onto that column: SHAP values add up, so
a column's value is its features' sum, and the row's values still add up to the model's output
less the expected one. A pipeline whose features cannot be traced back to its columns is explained
by the model-agnostic explainer.

The explained output: a classifier's margin for the tree and linear explainers (log-odds, as shap
gives them), the positive class' probability for the permutation explainer; a regressor's prediction.
With several classes, a column's value is the sum of its |SHAP| over the classes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evmon.config.explain import ModelFile
from evmon.errors import ExplainError

PERMUTATION_CHUNK = 20  # rows per call of the permutation explainer, between checks of the time bound


@dataclass(frozen=True)
class Attributions:
    """SHAP values of explained rows: one column per model column, in model.columns' order."""

    explainer: str  # tree, linear or permutation
    columns: tuple[str, ...]
    values: np.ndarray  # (rows, columns)
    base_value: float
    notes: tuple[str, ...] = ()

    def mean_abs(self) -> dict[str, float]:
        """The mean |SHAP| per column (0 for each when no row was explained)."""
        means = np.abs(self.values).mean(axis=0) if len(self.values) else np.zeros(len(self.columns))
        return {c: float(v) for c, v in zip(self.columns, means, strict=True)}


@dataclass(frozen=True)
class Explainer:
    """A shap explainer fitted for one model and background: explain(rows) gives Attributions."""

    kind: str
    shap_explainer: Any
    columns: tuple[str, ...]
    prep: Any | None  # a Pipeline's earlier steps, or None
    groups: np.ndarray | None  # (transformed features, columns) 0/1: which column each feature comes from
    settings: ModelFile
    output: Any  # the model-agnostic explainer's function of a frame
    codes: Codes | None = None  # the model-agnostic explainer's numbers for text values (its masker takes numbers)

    def explain(self, rows: pd.DataFrame) -> Attributions:
        if self.kind == "permutation":
            return self._permutation(rows)
        data = _dense(self.prep.transform(rows)) if self.prep is not None else rows
        values = _one_output(self.shap_explainer.shap_values(data))
        if self.groups is not None:
            values = values @ self.groups
        return Attributions(self.kind, self.columns, values, _base(self.shap_explainer.expected_value))

    def _permutation(self, rows: pd.DataFrame) -> Attributions:
        clock, done = time.perf_counter(), list[np.ndarray]()
        base = 0.0
        for start in range(0, len(rows), PERMUTATION_CHUNK):
            if done and time.perf_counter() - clock > self.settings.max_seconds:
                break
            chunk = rows.iloc[start : start + PERMUTATION_CHUNK]
            explained = self.shap_explainer(self.codes.encode(chunk) if self.codes else chunk, silent=True)
            done.append(_one_output(explained.values))
            base = _base(explained.base_values)
        values = np.concatenate(done) if done else np.zeros((0, len(self.columns)))
        notes: tuple[str, ...] = ()
        if len(values) < len(rows):
            notes = (
                f"the permutation explainer reached {len(values)} of {len(rows)} sampled rows within "
                f"model.max_seconds ({self.settings.max_seconds:g}s): the figures are of those rows",
            )
        return Attributions(self.kind, self.columns, values, base, notes)


def build_explainer(model: Any, background: pd.DataFrame, settings: ModelFile) -> tuple[Explainer, tuple[str, ...]]:
    """The explainer `settings.explainer` names ('auto': chosen for the model), and notes on the choice."""
    import shap

    columns = tuple(settings.columns)
    prep, final = _split(model)
    notes: list[str] = []
    wanted = settings.explainer
    groups: np.ndarray | None = None
    if wanted in ("auto", "tree", "linear"):
        transformed = _dense(prep.transform(background)) if prep is not None else background
        groups = input_groups(prep, list(columns), transformed.shape[1]) if prep is not None else None
        if prep is not None and groups is None:
            reason = "its pipeline's features cannot be traced back to its columns"
            if wanted != "auto":
                raise ExplainError(f"no {wanted} explainer for the model: {reason}")
            notes.append(f"the model-agnostic explainer: {reason}")
        else:
            if wanted in ("auto", "tree"):
                try:
                    tree = shap.TreeExplainer(final)
                    return Explainer("tree", tree, columns, prep, groups, settings, None), tuple(notes)
                except Exception as exc:  # shap's InvalidModelError, or a model it half supports
                    if wanted == "tree":
                        raise ExplainError(f"shap's TreeExplainer does not take the model: {exc}") from exc
            if wanted in ("auto", "linear") and hasattr(final, "coef_"):
                linear = shap.LinearExplainer(final, np.asarray(transformed, dtype=float))
                return Explainer("linear", linear, columns, prep, groups, settings, None), tuple(notes)
            if wanted == "linear":
                raise ExplainError(
                    f"shap's LinearExplainer needs a linear model (coef_); this is {type(final).__name__}"
                )
    codes = Codes(background)
    output = _output_function(model, background, codes)
    masker = shap.maskers.Independent(codes.encode(background), max_samples=len(background))
    permutation = shap.PermutationExplainer(output, masker, seed=settings.seed)
    return Explainer("permutation", permutation, columns, None, None, settings, output, codes), tuple(notes)


def _split(model: Any) -> tuple[Any | None, Any]:
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and len(model.steps) > 1:
        return model[:-1], model[-1]
    return None, model


def _dense(data: Any) -> np.ndarray:
    if hasattr(data, "toarray"):
        data = data.toarray()
    return np.asarray(data, dtype=float)


def _one_output(values: Any) -> np.ndarray:
    """(rows, features) of shap's values: the positive class of two, the sum of |values| over more."""
    if isinstance(values, list):
        values = np.stack(values, axis=-1)
    array = np.asarray(values, dtype=float)
    if array.ndim == 3:
        return array[:, :, 1] if array.shape[2] == 2 else np.abs(array).sum(axis=2)
    return array


def _base(expected: Any) -> float:
    flat = np.asarray(expected, dtype=float).reshape(-1)
    if flat.size == 0:
        return 0.0
    return float(flat[1] if flat.size == 2 else flat[0]) if flat.size <= 2 else float(flat.mean())


class Codes:
    """Text values as numbers and back: shap's masker mixes rows as arrays of numbers.

    Each text (object or category) column's values get codes 0, 1, ... in the order met (the background's
    first); a value met later in a day's rows gets the next code. Numbers pass as they are.
    """

    def __init__(self, background: pd.DataFrame) -> None:
        self.columns = list(background.columns)
        self.dtypes = background.dtypes
        self.values: dict[str, list[Any]] = {
            c: [] for c in self.columns if not pd.api.types.is_numeric_dtype(background[c].dtype)
        }
        self.index: dict[str, dict[Any, int]] = {c: {} for c in self.values}
        self.encode(background)

    def encode(self, rows: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(rows), len(self.columns)), dtype=float)
        for i, column in enumerate(self.columns):
            if column not in self.values:
                out[:, i] = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
                continue
            known, values = self.index[column], self.values[column]
            texts = rows[column].astype(object)
            texts = texts.where(texts.notna(), None)  # one code for a missing value (NaN is not equal to itself)
            for value in texts.drop_duplicates():
                if value not in known:
                    known[value] = len(values)
                    values.append(value)
            out[:, i] = [known[v] for v in texts]
        return out

    def decode(self, rows: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame(rows, columns=self.columns)
        for column, values in self.values.items():
            frame[column] = np.asarray(values, dtype=object)[frame[column].to_numpy().round().astype(int)]
        return frame.astype(self.dtypes)


def _output_function(model: Any, background: pd.DataFrame, codes: Codes) -> Any:
    """The model's output (the positive class' probability of two, all of more; or predict) of an array of rows."""

    def output(rows: Any) -> np.ndarray:
        frame = codes.decode(np.asarray(rows, dtype=float))
        if hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(frame), dtype=float)
            return proba[:, 1] if proba.shape[1] == 2 else proba
        return np.asarray(model.predict(frame), dtype=float)

    return output


def input_groups(prep: Any, columns: list[str], width: int) -> np.ndarray | None:
    """Which column each of `prep`'s `width` output features comes from, as a 0/1 matrix; None if untraceable.

    Traced: a ColumnTransformer first (each transformer's outputs from one column, one per column, or a
    one-hot encoder's categories per column), then steps that keep the width; or steps that keep it all along.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    first = prep.steps[0][1] if isinstance(prep, Pipeline) else prep
    sources = _column_transformer_sources(first, columns) if isinstance(first, ColumnTransformer) else None
    if sources is None:
        sources = list(range(len(columns))) if width == len(columns) else None
    if sources is None or len(sources) != width:
        return None
    groups = np.zeros((width, len(columns)))
    groups[np.arange(width), sources] = 1.0
    return groups


def _column_transformer_sources(ct: Any, columns: list[str]) -> list[int] | None:
    width = max((s.stop for s in ct.output_indices_.values()), default=0)
    sources: list[int | None] = [None] * width
    for name, transformer, selected in ct.transformers_:
        out = ct.output_indices_.get(name)
        if out is None or out.stop == out.start or transformer == "drop":
            continue
        names = _selected(selected, columns)
        if names is None:
            return None
        idx = [columns.index(n) for n in names]
        count = out.stop - out.start
        if len(idx) == 1:
            per = idx * count
        elif count == len(idx):
            per = idx
        else:
            categories = _categories(transformer)
            if categories is None or len(categories) != len(idx) or sum(map(len, categories)) != count:
                return None
            per = [i for i, cats in zip(idx, categories, strict=True) for _ in cats]
        sources[out.start : out.stop] = per
    if any(s is None for s in sources):
        return None
    return [int(s) for s in sources if s is not None]


def _selected(selected: Any, columns: list[str]) -> list[str] | None:
    items = [selected] if isinstance(selected, str | int) else list(selected)
    if items and all(isinstance(i, bool | np.bool_) for i in items):
        return [c for c, keep in zip(columns, items, strict=False) if keep]
    names = [columns[int(i)] if isinstance(i, int | np.integer) else str(i) for i in items]
    return names if all(n in columns for n in names) else None


def _categories(transformer: Any) -> list[Any] | None:
    """A one-hot encoder's categories (itself, or the last step of a pipeline), when it drops none."""
    last = transformer.steps[-1][1] if hasattr(transformer, "steps") else transformer
    categories = getattr(last, "categories_", None)
    if categories is None or getattr(last, "drop_idx_", None) is not None:
        return None
    if getattr(last, "infrequent_categories_", None) is not None and any(
        c is not None for c in last.infrequent_categories_
    ):
        return None
    return list(categories)
