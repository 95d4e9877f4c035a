"""Real days of a project with `fairness` and `outliers`, generated here, run by evmon's runner.

Project 'synth' (tests/outliers/synthetic.py) with fairness on `tier`: a clean day, a fairness
episode (the model approves fewer tier-2 customers: disparate impact well below 0.8), an outlier
episode (a fifth of the rows far outside the reference), and a clean day again.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evmon.config.model import EvmonConfig
from evmon.run.day import run_day
from evmon.storage.files import FilesWorkspace
from tests.outliers.synthetic import FIRST_DAY, frame, write_project

PROJECT = "synth"
CLEAN, FAIRNESS_EPISODE, OUTLIER_EPISODE, CLEAN_AGAIN = (FIRST_DAY + timedelta(days=i) for i in range(4))
FAIRNESS = {"sensitive": ["tier"]}


def days(seed: int = 25) -> tuple[pd.DataFrame, dict[date, pd.DataFrame]]:
    rng = np.random.default_rng(seed)
    reference = frame(rng, 4_000)
    out = {day: frame(rng, 3_000, day) for day in (CLEAN, FAIRNESS_EPISODE, CLEAN_AGAIN)}
    out[OUTLIER_EPISODE] = frame(rng, 3_000, OUTLIER_EPISODE, outliers=0.2)
    episode = out[FAIRNESS_EPISODE]
    tier2 = episode["tier"] == 2
    episode.loc[tier2, "p"] = episode.loc[tier2, "p"] * 0.7  # fewer approvals for one group
    return reference, dict(sorted(out.items()))


def write(folder: Path, fairness: dict[str, Any] | None = None, outliers: Any = True) -> EvmonConfig:
    """projects.yaml and the data files (the same data for the same folder contents each time)."""
    reference, daily = days()
    return write_project(folder, reference, daily, outliers=outliers, fairness=fairness or FAIRNESS)


def run_all(config: EvmonConfig) -> FilesWorkspace:
    """Every day run with its labels in, into the config's workspace."""
    workspace = FilesWorkspace(config.resolve(config.workspace))
    for day in (CLEAN, FAIRNESS_EPISODE, OUTLIER_EPISODE, CLEAN_AGAIN):
        result = run_day(config, config.projects[0], day, workspace=workspace, today=day + timedelta(days=1))
        assert result.outcome == "ok", result.line()
    return workspace
