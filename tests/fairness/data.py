"""Two independently generated data sets for the fairness tests, and projects that read them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from evmon.config.model import Project

GROUPS = ["east", "north", "south", "west"]
SMALL_GROUP = "island"  # 12 rows: below min_rows, reported and not ranked


def with_gap(seed: int = 7, rows: int = 4000) -> pd.DataFrame:
    """Scores from a latent risk; the model scores `south` lower than its real risk says (fewer approvals)."""
    rng = np.random.default_rng(seed)
    region = rng.choice(GROUPS, size=rows, p=[0.2, 0.35, 0.25, 0.2])
    region = np.concatenate([region, [SMALL_GROUP] * 12])
    n = region.size
    risk = rng.normal(size=n)
    label = (rng.random(n) < 1 / (1 + np.exp(-1.5 * risk))).astype(int)
    logit = 1.2 * risk + rng.normal(scale=0.8, size=n) - np.where(region == "south", 1.0, 0.0)
    score = np.round(1 / (1 + np.exp(-logit)), 3)  # rounded: tied scores
    amount = 50 + 10 * risk + rng.normal(size=n)
    return pd.DataFrame(
        {
            "income": rng.normal(size=n),
            "region": region,
            "channel": rng.choice(["web", "branch"], size=n),
            "score": score,
            "approved": (score >= 0.5).astype(int),
            "defaulted": label,
            "predicted_amount": amount + np.where(region == "south", 8.0, 0.0) + rng.normal(scale=3, size=n),
            "amount": amount,
        }
    )


def without_gap(seed: int = 11, rows: int = 3000) -> pd.DataFrame:
    """scikit-learn's make_classification scored by a logistic regression; groups drawn independently."""
    features, label = make_classification(n_samples=2 * rows, n_features=6, n_informative=4, random_state=seed)
    model = LogisticRegression().fit(features[:rows], label[:rows])
    rng = np.random.default_rng(seed)
    score = model.predict_proba(features[rows:])[:, 1]
    region = rng.choice(GROUPS, size=rows).astype(object)
    region[:12] = SMALL_GROUP
    regression = features[rows:, 0] * 3 + 20
    return pd.DataFrame(
        {
            "income": features[rows:, 1],
            "region": region,
            "channel": rng.choice(["web", "branch"], size=rows),
            "score": score,
            "approved": model.predict(features[rows:]),
            "defaulted": label[rows:],
            "predicted_amount": regression + rng.normal(scale=1, size=rows),
            "amount": regression,
        }
    )


def project(kind: str = "probability", fairness: dict[str, Any] | None = None, **presets: Any) -> Project:
    """A project over these columns (its source is never read by the tests that use it)."""
    prediction = {"probability": "score", "label": "approved", "regression": "predicted_amount"}[kind]
    target = "amount" if kind == "regression" else "defaulted"
    quality = {"regression": True} if kind == "regression" else {"classification": presets.pop("classification", {})}
    return Project.model_validate(
        {
            "name": "fair",
            "source": {"path": "unused/*.parquet", "timestamp_column": "ts"},
            "reference": {"path": "unused.parquet"},
            "columns": {
                "numerical": ["income"],
                "categorical": ["region", "channel"],
                "target": target,
                "prediction": {"column": prediction, "kind": kind},
            },
            "presets": {"data_drift": True, **quality, **presets},
            "fairness": {"sensitive": ["region", "channel"], **(fairness or {})},
        }
    )
