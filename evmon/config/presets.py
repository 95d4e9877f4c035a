"""projects.yaml's `presets` section of a project: which Evidently presets run, with their settings."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from evmon.config.sections import AtKey, Estimation, StrictSection
from evmon.drift import DRIFT_METHODS

DEFAULT_MAX_CATEGORIES = 10000


class ColumnDrift(StrictSection):
    """A per-column override of the drift method or threshold."""

    method: str | None = None
    threshold: float | None = Field(None, gt=0)


class DataDrift(StrictSection):
    """DataDriftPreset settings; None means Evidently's defaults."""

    method: str | None = None
    num_method: str | None = None
    cat_method: str | None = None
    threshold: float | None = Field(None, gt=0)
    num_threshold: float | None = Field(None, gt=0)
    cat_threshold: float | None = Field(None, gt=0)
    drift_share: float = Field(0.5, gt=0, le=1)
    include_prediction: bool = True
    columns: dict[str, ColumnDrift] = Field(default_factory=dict)
    # a categorical column with more distinct values (the day's and the reference's) is left out of
    # drift that day (evmon.evidently.guard); null: no cap
    max_categories: int | None = Field(DEFAULT_MAX_CATEGORIES, ge=2)

    @model_validator(mode="after")
    def _known_methods(self) -> DataDrift:
        named = [("method", self.method), ("num_method", self.num_method), ("cat_method", self.cat_method)]
        named += [(f"columns.{c}.method", o.method) for c, o in self.columns.items()]
        for key, method in named:
            if method is not None and method not in DRIFT_METHODS:
                raise AtKey(key, f"unknown drift method; expected one of {', '.join(DRIFT_METHODS)}", method)
        return self


class Empty(StrictSection):
    """A preset without settings."""


class Classification(StrictSection):
    """ClassificationPreset settings."""

    probas_threshold: float | None = Field(None, gt=0, lt=1)


def switch(value: Any) -> Any:
    """`preset: true` (or a section such as `outliers: true`) means it with its defaults; `false` or absent, off."""
    if value is True:
        return {}
    if value is False:
        return None
    return value


class Presets(StrictSection):
    """Which Evidently presets run for the project."""

    data_drift: DataDrift | None = None
    data_summary: Empty | None = None
    classification: Classification | None = None
    regression: Empty | None = None
    estimation: Estimation | None = None

    @field_validator("data_drift", "data_summary", "classification", "regression", "estimation", mode="before")
    @classmethod
    def _boolean_switch(cls, value: Any) -> Any:
        return switch(value)

    @model_validator(mode="after")
    def _something_to_run(self) -> Presets:
        if not any((self.data_drift, self.data_summary, self.classification, self.regression)):
            raise ValueError("enable at least one of data_drift, data_summary, classification, regression")
        if self.classification is not None and self.regression is not None:
            raise ValueError("a project's model is either a classifier or a regressor, not both")
        return self
