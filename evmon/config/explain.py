"""A project's `model` section: the model file evmon explains each day (evmon.explain).

The model is a scikit-learn compatible estimator (a Pipeline too) saved with joblib or pickle, or
with skops; `columns` are the ones it takes, in order. Loading a joblib or pickle file runs the
code it holds: its path must be one you trust. skops loads only the types it trusts (scikit-learn's,
numpy's, and those listed under `trusted`), and is the format to prefer.

Each day, on a seeded sample of the day's rows, SHAP values (the `shap` extra): the explainer
chosen for the model ('auto': TreeExplainer for tree ensembles, LinearExplainer for linear models,
otherwise a model-agnostic PermutationExplainer with a background sample of the reference, bounded
by `max_seconds`); the mean |SHAP| per column; the same once for the reference; the attribution
drift (the nDCG of the day's ranking against the reference's, alert below `thresholds.ndcg_min`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from evmon.config.sections import AtKey, StrictSection, _check_location, check_listed_columns

MODEL_FORMATS = ("auto", "joblib", "pickle", "skops")


class ExplainThresholds(StrictSection):
    """Alert when a day's nDCG of its attribution ranking against the reference's is below `ndcg_min`."""

    ndcg_min: float = Field(default=0.9, ge=0, le=1)


class ModelFile(StrictSection):
    """The project's model, explained on a sample of each day's rows."""

    path: str = Field(description="a file path relative to projects.yaml, or an s3://, gs://, abfs:// URL")
    format: Literal["auto", "joblib", "pickle", "skops"] = Field(
        default="auto", description="'auto': skops for .skops files, joblib (which reads pickles too) otherwise"
    )
    columns: list[str] = Field(description="the columns the model takes, in the order it takes them")
    trusted: list[str] = Field(default=[], description="skops: types to trust beyond its defaults")
    explainer: Literal["auto", "tree", "linear", "permutation"] = "auto"
    sample_rows: int = Field(default=1000, ge=10, le=1_000_000, description="the day's rows explained (seeded)")
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    background_rows: int = Field(default=100, ge=1, le=10_000, description="the reference's rows SHAP masks with")
    max_seconds: float = Field(default=60.0, gt=0, le=3600, description="the model-agnostic explainer's bound per day")
    top_k: int | None = Field(default=None, ge=1, description="the nDCG's ranks: the top k features (None: all)")
    thresholds: ExplainThresholds = ExplainThresholds()

    @model_validator(mode="after")
    def _supported(self) -> ModelFile:
        _check_location(self.path)
        if self.trusted and self.format not in ("skops", "auto"):
            raise AtKey("trusted", f"is for skops files; format is {self.format!r}")
        return self

    def resolved_format(self) -> Literal["joblib", "pickle", "skops"]:
        """The format the file is read in: `format`, or the one its name says."""
        if self.format != "auto":
            return self.format
        return "skops" if self.path.lower().endswith(".skops") else "joblib"


def check_model_columns(model: ModelFile | None, columns: list[str]) -> None:
    """Each of model.columns is one of the project's declared columns, listed once."""
    if model is None:
        return
    check_listed_columns(
        "model.columns", model.columns, columns, "column", "list the columns the model takes, in order"
    )
