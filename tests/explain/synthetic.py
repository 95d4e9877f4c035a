"""Models of the synthetic project (tests/outliers/synthetic.py), saved as files, and its config with `model:`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from evmon.config.model import EvmonConfig
from tests.outliers.synthetic import CATEGORICAL, FIRST_DAY, NUMERICAL, frame, write_project

COLUMNS = [*NUMERICAL, *CATEGORICAL]


def frames(seed: int = 3, rows: int = 800) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    return frame(rng, 2_000), frame(rng, rows, FIRST_DAY)


def tree_model(reference: pd.DataFrame) -> Any:
    """Gradient boosting on the numerical columns (tier as a number): shap's TreeExplainer."""
    return GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0).fit(
        reference[["income", "age", "balance", "tier"]], reference["y"]
    )


def linear_model(reference: pd.DataFrame) -> Any:
    """A pipeline: scaled numbers and one-hot categories into a logistic regression: shap's LinearExplainer."""
    prep = ColumnTransformer(
        [("num", StandardScaler(), NUMERICAL), ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)],
        sparse_threshold=0,
    )
    return make_pipeline(prep, LogisticRegression(max_iter=500)).fit(reference[COLUMNS], reference["y"])


def other_model(reference: pd.DataFrame) -> Any:
    """A small neural network: neither a tree nor linear, so the model-agnostic explainer."""
    return make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=300, random_state=0)).fit(
        reference[["income", "age", "balance"]], reference["y"]
    )


def saved(folder: Path, model: Any, name: str = "model.joblib") -> Path:
    path = folder / name
    joblib.dump(model, path)
    return path


def project_with_model(
    folder: Path, reference: pd.DataFrame, days: dict[Any, pd.DataFrame], model: dict[str, Any]
) -> EvmonConfig:
    return write_project(folder, reference, days, outliers=False, model=model)
