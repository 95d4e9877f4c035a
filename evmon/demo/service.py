"""The demo's credit model, served for real: a FastAPI app scoring with the demo's scorecard, watched by evmon.online.

    POST /score  {"ExternalRiskEstimate": 71, ..., "region": "north"}  ->  {"default_probability": 0.18}
    GET  /metrics                                                      ->  Prometheus' text format

What the request holds is the model's business: a missing or NaN feature is imputed by the model's
own pipeline, an unknown region is ignored by its encoder, a value that is not a number is answered
422. Every request, answered or not, is handed to the monitor (observe), which counts what was wrong.

The monitor reads the credit_scorecard_live entry of projects.yaml (`--project`): its columns, reference and
thresholds, and its row log, which that project's daily runs read: a day's snapshot holds the rows scored.

`python -m evmon.demo.service --config projects.yaml --port 8090` (what `evmon demo` starts).
"""

from __future__ import annotations

import argparse
import math
import pickle
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse

from evmon.config.loader import load_config
from evmon.demo.data import CREDIT, CREDIT_FEATURES, CREDIT_LIVE
from evmon.online import Monitor, instrument

MODEL_VERSION = "2026-01"  # the demo's scorecard, trained on January 2026


class Scorecard:
    """The demo's credit model: a request's features to a default probability (TypeError: not a number)."""

    def __init__(self, config_path: Path) -> None:
        config = load_config(config_path)
        self.config = config
        self.model = pickle.loads((config.base_dir / "demo_data" / CREDIT / "model.pkl").read_bytes())
        self.columns = [*CREDIT_FEATURES, "region"]

    def score(self, features: dict[str, Any]) -> float:
        row: dict[str, object] = {c: _number(features.get(c)) for c in CREDIT_FEATURES}
        region = features.get("region")
        row["region"] = region if isinstance(region, str) else np.nan
        return float(self.model.predict_proba(pd.DataFrame([row], columns=self.columns))[0, 1])


def create_app(
    config_path: Path,
    version: str = MODEL_VERSION,
    monitored: bool = True,
    project: str = CREDIT_LIVE,
    scorecard: Scorecard | None = None,
) -> FastAPI:
    """The service of the demo's credit model, watched as the `project` entry of `config_path` declares.

    monitored=False: the same model and endpoint without evmon.online (bench/online.py's baseline);
    scorecard: another scorer of the same model (bench/_online_linear.py)."""
    scorecard = scorecard or Scorecard(config_path)
    monitor = Monitor(scorecard.config, project, version=version) if monitored else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if monitor is not None:
            monitor.close()  # the rows still waiting are written before the process ends

    app = FastAPI(title=project, lifespan=lifespan)
    if monitor is not None:
        instrument(app, monitor)

    @app.post("/score")
    async def score(features: dict[str, Any] = Body(...)) -> Any:  # noqa: B008 - FastAPI's way of a raw body
        try:
            probability = scorecard.score(features)
        except TypeError as exc:
            if monitor is not None:
                monitor.observe(features, None)
            return JSONResponse({"detail": f"not a number: {exc}"}, status_code=422)
        if monitor is not None:
            monitor.observe(features, probability)
        return {"default_probability": round(probability, 6), "model_version": version}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.state.monitor = monitor
    return app


def _number(value: Any) -> float:
    """A feature's value for the model: None is missing (NaN, imputed); a string is refused."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(repr(value))
    return float(value)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("projects.yaml"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--version", default=MODEL_VERSION)
    parser.add_argument("--project", default=CREDIT_LIVE, help="the projects.yaml entry the monitor reads")
    parser.add_argument("--no-monitor", action="store_true", help="serve the model without evmon.online (a baseline)")
    args = parser.parse_args(argv)
    app = create_app(args.config, args.version, monitored=not args.no_monitor, project=args.project)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
