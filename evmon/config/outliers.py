"""A project's `outliers` section: values of the day outside what the reference holds (evmon.outliers).

Per column: the share of a numerical column's values outside the reference's range (its quantiles,
or its min and max) and the share of a categorical column's values the reference never holds; for
the rows: an IsolationForest fitted on the reference, the share of the day's rows it scores as
outliers. `thresholds` are where the alerts fire (one share per column, one for the forest).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from evmon.config.sections import AtKey, StrictSection, check_listed_columns


class IsolationForestSettings(StrictSection):
    """scikit-learn's IsolationForest, fitted once on the reference, seeded so a re-run gives the same share."""

    enabled: bool = True
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    contamination: Literal["auto"] | float = Field(
        default=0.01, description="the reference's share of outliers, (0, 0.5]; or 'auto' (the forest's own offset)"
    )
    n_estimators: int = Field(default=100, ge=10, le=1000, description="the forest's trees")

    @model_validator(mode="after")
    def _contamination_range(self) -> IsolationForestSettings:
        value = self.contamination
        if not isinstance(value, str) and not 0 < value <= 0.5:
            raise AtKey("contamination", "expected 'auto' or a share in (0, 0.5]", value)
        return self


class OutlierThresholds(StrictSection):
    """Alert when a day's share is above these (per column; for the forest's rows)."""

    column_share_max: float = Field(default=0.05, ge=0, le=1)
    multivariate_share_max: float = Field(default=0.05, ge=0, le=1)


class Outliers(StrictSection):
    """Outliers against the reference; `columns` default to every numerical and categorical feature."""

    range: Literal["quantiles", "minmax"] = "quantiles"
    quantiles: tuple[float, float] = (0.005, 0.995)
    columns: list[str] | None = None
    isolation_forest: IsolationForestSettings = IsolationForestSettings()
    thresholds: OutlierThresholds = OutlierThresholds()

    @model_validator(mode="after")
    def _ordered_quantiles(self) -> Outliers:
        low, high = self.quantiles
        if not 0 <= low < high <= 1:
            raise AtKey("quantiles", f"expected two quantiles with 0 <= low < high <= 1 (got [{low}, {high}])")
        if self.range == "minmax" and "quantiles" in self.model_fields_set:
            raise AtKey("quantiles", "set with range 'minmax', which uses the reference's min and max; drop one")
        return self

    def columns_of(self, features: list[str]) -> list[str]:
        """The features watched: `columns`, or every numerical and categorical feature (`features`)."""
        return list(self.columns) if self.columns is not None else list(features)


def check_outlier_columns(outliers: Outliers | None, features: list[str]) -> None:
    """Each of outliers.columns is one of the declared numerical or categorical `features`, listed once."""
    if outliers is None or outliers.columns is None:
        return
    check_listed_columns(
        "outliers.columns",
        outliers.columns,
        features,
        "numerical or categorical column",
        "list features, or leave it out for every feature",
    )
