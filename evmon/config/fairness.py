"""projects.yaml's `fairness` section: whether a model treats the groups of a sensitive column alike.

evmon.fairness computes the measures each day; this module only validates what projects.yaml asks
for, against the project's columns and presets (called from evmon.config.model's cross-checks).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evmon.config.sections import AtKey

CLASSIFIER_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSOR_METRICS = ("mae", "rmse")
DEFAULT_QUALITY_METRIC = {"classifier": "accuracy", "regressor": "mae"}


class FairnessThresholds(BaseModel):
    """Where the fairness alerts fire (Grafana's and Prometheus' rules read them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    disparate_impact_min: float = Field(0.8, gt=0, le=1, description="demographic parity ratio below this alerts")
    equalized_odds_max: float = Field(0.1, ge=0, le=1, description="equalized odds difference above this alerts")


class Fairness(BaseModel):
    """Per day and sensitive column: each group's selection rate (and with labels TPR, FPR, precision, quality),
    and the gaps between the groups of at least `min_rows` rows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensitive: list[str] = Field(min_length=1, description="columns.categorical whose groups are compared")
    reference_group: dict[str, int | str | bool] = Field(
        default={}, description="per sensitive column, the group each group's selection rate is divided by"
    )
    quality_metric: str | None = Field(
        default=None, description="accuracy, precision, recall, f1, roc_auc (classifier); mae, rmse (regressor)"
    )
    min_rows: int = Field(30, ge=1, description="a group with fewer rows that day is reported, not ranked")
    favourable: Literal["positive", "negative"] = Field(
        "positive",
        description="the decision whose rate the selection rate and disparate impact compare: positive_label "
        "(e.g. a hire), or the other one (e.g. a credit model's approvals, when positive_label is a default)",
    )
    thresholds: FairnessThresholds = FairnessThresholds()

    @model_validator(mode="after")
    def _reference_of_a_sensitive_column(self) -> Fairness:
        for i, column in enumerate(self.sensitive):
            if column in self.sensitive[:i]:
                raise AtKey(f"sensitive[{i}]", "listed twice; expected each sensitive column once", column)
        for column in self.reference_group:
            if column not in self.sensitive:
                raise AtKey(
                    f"reference_group.{column}", "not one of fairness.sensitive", column, choices=self.sensitive
                )
        return self


def check_fairness(fairness: Fairness, categorical: list[str], prediction_kind: str | None) -> None:
    """The cross-checks against the project: declared columns, a prediction, a metric for its kind.

    Raises AtKey under the project's keys (fairness.*, as evmon.config.loader reports them).
    """
    for i, column in enumerate(fairness.sensitive):
        if column not in categorical:
            raise AtKey(
                f"fairness.sensitive[{i}]", "a sensitive column must be one of columns.categorical", column, categorical
            )
    if prediction_kind is None:
        raise AtKey("fairness", "needs columns.prediction (the decisions whose rates are compared)")
    metric = fairness.quality_metric
    if metric is None:
        return
    allowed = REGRESSOR_METRICS if prediction_kind == "regression" else CLASSIFIER_METRICS
    if metric not in allowed:
        kind = "a regressor" if prediction_kind == "regression" else "a classifier"
        raise AtKey("fairness.quality_metric", f"not a metric of {kind}; expected one of {', '.join(allowed)}", metric)
    if metric == "roc_auc" and prediction_kind == "label":
        message = "roc_auc needs probability scores; columns.prediction.kind is 'label'"
        raise AtKey("fairness.quality_metric", message, metric)


def quality_metric_of(fairness: Fairness, prediction_kind: str) -> str:
    """The quality metric compared between groups: the configured one, else accuracy or mae."""
    default = DEFAULT_QUALITY_METRIC["regressor" if prediction_kind == "regression" else "classifier"]
    return fairness.quality_metric or default
