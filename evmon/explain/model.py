"""A project's model file, read and checked: the formats, what a bad file says, one line each.

joblib (which reads plain pickles too) runs the code a file holds: only a trusted path is read
(docs/explanations.md). skops reads the types it trusts: scikit-learn's and numpy's by default,
and those the project lists under `model.trusted`; any other type is refused, named.

A file saved by another scikit-learn version loads with scikit-learn's InconsistentVersionWarning;
evmon keeps the model and quotes the warning in the day's log, each day.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evmon.config.explain import ModelFile
from evmon.errors import ExplainError
from evmon.sources.remote import is_url, one_file, read_bytes, store_reason


@dataclass(frozen=True)
class LoadedModel:
    estimator: Any
    path: str
    notes: tuple[str, ...]  # e.g. the scikit-learn version warning, quoted


def file_key(path: str) -> tuple[str, int, int | str] | None:
    """The file's name, size and version (None when it is not there): a changed file is read again."""
    try:
        found = one_file(path)
    except Exception:  # an unlistable store or file: reading it will say why
        return None
    return None if found is None else found.key


def load_model(path: str, settings: ModelFile) -> LoadedModel:
    """The model in `path` (a local path or a URL, as located), or ExplainError naming the file and why."""
    try:
        if is_url(path):
            data = read_bytes(path)
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except FileNotFoundError as exc:
        raise ExplainError(f"model file {path} does not exist (model.path {settings.path!r})") from exc
    except OSError as exc:
        raise ExplainError(f"cannot read the model file {path}: {store_reason(exc)}") from exc
    fmt = settings.resolved_format()
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator = _skops(data, path, settings) if fmt == "skops" else _joblib(data)
        except ExplainError:
            raise
        except Exception as exc:  # a corrupt or foreign file: any error its loader raises
            raise ExplainError(
                f"cannot load the model file {path} as {fmt}: {type(exc).__name__}: {_first_line(exc)}"
            ) from exc
    versions = [w for w in caught if type(w.message).__name__ == "InconsistentVersionWarning"]
    if versions:  # one per estimator unpickled, the model itself last: one line quoting it
        parts = f" (and {len(versions) - 1} of its parts)" if len(versions) > 1 else ""
        notes.append(
            f"the model file {path} is of another scikit-learn version{parts}: {_first_line(versions[-1].message)!r}"
        )
    if not hasattr(estimator, "predict"):
        raise ExplainError(f"the model file {path} holds a {type(estimator).__name__}, which has no predict()")
    return LoadedModel(estimator, path, tuple(notes))


def _joblib(data: bytes) -> Any:
    import joblib

    return joblib.load(io.BytesIO(data))


def _skops(data: bytes, path: str, settings: ModelFile) -> Any:
    try:
        import skops.io as sio
    except ImportError as exc:
        raise ExplainError("reading a skops model needs the explain extra: pip install 'evmon[explain]'") from exc
    untrusted = [t for t in sio.get_untrusted_types(data=data) if t not in settings.trusted]
    if untrusted:
        raise ExplainError(
            f"the skops file {path} holds types skops does not trust: {', '.join(untrusted)} "
            "(list them under model.trusted if you trust this file)"
        )
    return sio.loads(data, trusted=list(settings.trusted) or None)


def _first_line(exc: object) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def checked_inputs(loaded: LoadedModel, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`frame`'s model columns, in order; ExplainError when the model was fitted on other columns."""
    names = getattr(loaded.estimator, "feature_names_in_", None)
    if names is not None and list(names) != columns:
        raise ExplainError(
            f"the model in {loaded.path} was fitted on the columns {list(map(str, names))}, "
            f"model.columns lists {columns}"
        )
    count = getattr(loaded.estimator, "n_features_in_", None)
    if names is None and count is not None and int(count) != len(columns):
        raise ExplainError(
            f"the model in {loaded.path} takes {int(count)} columns, model.columns lists {len(columns)}: {columns}"
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ExplainError(f"the day's rows lack the model's columns {missing}")
    return frame[columns]


def predictions(loaded: LoadedModel, inputs: pd.DataFrame) -> np.ndarray:
    """What the model's explained output is on `inputs` (positive-class probability, or its prediction).

    ExplainError when it fails, or predicts NaN or infinity for some row (named by count).
    """
    model = loaded.estimator
    try:
        if hasattr(model, "predict_proba"):
            values = np.asarray(model.predict_proba(inputs), dtype=float)
        else:
            values = np.asarray(model.predict(inputs), dtype=float)
    except Exception as exc:  # the model's own failure on these rows
        raise ExplainError(
            f"the model in {loaded.path} fails to predict: {type(exc).__name__}: {_first_line(exc)}"
        ) from exc
    flat = values.reshape(len(inputs), -1)
    bad = ~np.isfinite(flat).all(axis=1)
    if bad.any():
        raise ExplainError(
            f"the model in {loaded.path} predicts NaN or infinity for {int(bad.sum())} of {len(inputs)} sampled rows"
        )
    return flat
