"""The demo's credit service with its scorecard evaluated as its coefficients: bench/online.py's 500 requests/s.

The demo's scikit-learn pipeline (imputer, scaler, one-hot encoder, logistic regression) spends ~7 ms of
validation and DataFrame handling on each one-row call: one process answers ~130 requests/s, so at 500/s
any service of it only queues, with or without evmon.online. What the bench measures is what the
instrumentation adds, so `--scorer linear` serves the same model evaluated from its fitted parameters
(medians, means, scales, categories, coefficients) in plain Python: the same probabilities (checked at
start against predict_proba on the demo's rows, to 1e-9) in a few microseconds. Everything else (FastAPI,
the request's body, the response, evmon.online) is the demo service's own.

    python bench/_online_linear.py --config projects.yaml --port 8090 [--no-monitor]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402

from evmon.demo.data import CREDIT, CREDIT_FEATURES  # noqa: E402
from evmon.demo.service import MODEL_VERSION, Scorecard, _number, create_app  # noqa: E402


class LinearScorecard(Scorecard):
    """The demo's scorecard evaluated from its fitted parameters: predict_proba's value without its overhead."""

    def __init__(self, config_path: Path) -> None:
        super().__init__(config_path)
        transformer = self.model.named_steps["columntransformer"]
        numeric = transformer.named_transformers_["num"]
        encoder = transformer.named_transformers_["cat"]
        regression = self.model.named_steps["logisticregression"]
        coefficients = [float(c) for c in regression.coef_[0]]
        medians = numeric.named_steps["simpleimputer"].statistics_
        scaler = numeric.named_steps["standardscaler"]
        self.numeric = [
            (column, float(median), float(mean), float(scale), weight)
            for column, median, mean, scale, weight in zip(
                CREDIT_FEATURES, medians, scaler.mean_, scaler.scale_, coefficients, strict=False
            )
        ]
        regions = [str(r) for r in encoder.categories_[0]]
        self.region_weight = dict(zip(regions, coefficients[len(CREDIT_FEATURES) :], strict=True))
        self.intercept = float(regression.intercept_[0])
        self._check()

    def score(self, features: dict[str, Any]) -> float:
        logit = self.intercept
        for column, median, mean, scale, weight in self.numeric:
            value = _number(features.get(column))
            logit += weight * ((median if math.isnan(value) else value) - mean) / scale
        region = features.get("region")
        logit += self.region_weight.get(region, 0.0) if isinstance(region, str) else 0.0
        return 1.0 / (1.0 + math.exp(-logit))

    def _check(self) -> None:
        """The same probabilities as the pipeline on a day of the demo's rows, or the bench stops."""
        day = sorted((self.config.base_dir / "demo_data" / CREDIT / "daily").glob("*.parquet"))[-1]
        rows = pd.read_parquet(day)[self.columns].head(500)
        expected = self.model.predict_proba(rows)[:, 1]
        for (_, row), want in zip(rows.iterrows(), expected, strict=True):
            features = {c: (None if pd.isna(v) else v) for c, v in row.items()}
            got = self.score(features)
            if abs(got - want) > 1e-9:
                raise SystemExit(f"the linear scorecard gives {got!r} where the pipeline gives {want!r}: {features}")


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--no-monitor", action="store_true")
    args = parser.parse_args()
    scorecard = LinearScorecard(args.config)
    app = create_app(args.config, MODEL_VERSION, monitored=not args.no_monitor, scorecard=scorecard)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
