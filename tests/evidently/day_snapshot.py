"""One demo day's snapshot computed as the runner does, for tests that compare snapshots."""

from __future__ import annotations

from datetime import date

import pandas as pd
from evidently.core.serialization import SnapshotModel

from evmon.config.model import EvmonConfig, Project
from evmon.days import day_window_utc, snapshot_timestamp
from evmon.evidently.report import compute_snapshot
from evmon.sources import read as sources


def day_snapshot(
    config: EvmonConfig, project: Project, reference: pd.DataFrame, day: date, *, reuse_reference: bool
) -> SnapshotModel:
    """`project`'s snapshot of `day` (quality included) against `reference`."""
    current = sources.read_window(config, project, *day_window_utc(day, project.timezone))
    return compute_snapshot(
        project,
        current,
        reference,
        timestamp=snapshot_timestamp(day),
        with_quality=True,
        metadata={},
        tags=[],
        name="x",
        reuse_reference=reuse_reference,
    )
