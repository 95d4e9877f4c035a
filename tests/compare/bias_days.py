"""Three real days of a small project generated here, with fairness (on channel) and outliers on.

A: like the reference. B: a tenth of the rows far outside it (and half of those of a channel the
reference never holds, 'partner': a group below min_rows, reported and not ranked). C: no row
predicted positive (every selection rate 0: the disparate impact is undefined).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from evmon.config.model import EvmonConfig
from evmon.run.day import run_day
from evmon.storage.files import FilesWorkspace
from tests.outliers.synthetic import FIRST_DAY, frame, write_project

DAY_A, DAY_B, DAY_C = FIRST_DAY, FIRST_DAY + timedelta(days=1), FIRST_DAY + timedelta(days=2)
FAIRNESS = {"sensitive": ["channel"], "min_rows": 50}


def bias_project(folder: Path) -> EvmonConfig:
    """projects.yaml of project 'synth' with its reference and the three days' files, loaded."""
    rng = np.random.default_rng(2525)
    quiet = frame(rng, 400, DAY_C)
    quiet["p"] = quiet["p"] * 0.4  # every score under the 0.5 threshold
    days = {DAY_A: frame(rng, 800, DAY_A), DAY_B: frame(rng, 800, DAY_B, 0.1), DAY_C: quiet}
    return write_project(folder, frame(rng, 2_000), days, fairness=FAIRNESS)


def run_days(config: EvmonConfig) -> FilesWorkspace:
    """Run the three days, their labels in; the workspace."""
    workspace = FilesWorkspace(config.resolve(config.workspace))
    for day in (DAY_A, DAY_B, DAY_C):
        result = run_day(config, config.projects[0], day, workspace=workspace, today=DAY_C + timedelta(days=1))
        assert result.outcome == "ok", result.line()
    return workspace


def day_frame(folder: Path, day: object) -> pd.DataFrame:
    return pd.read_parquet(folder / "daily" / f"{day}.parquet")
