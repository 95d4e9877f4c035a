"""The stock `evidently ui` (a process of its own, without evmon) serves the stored outlier figures as series."""

from __future__ import annotations

import json
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from evmon.processes import free_port, stop, wait_ready
from evmon.services.ui import start_ui
from evmon.snapshot.ids import project_id
from evmon.storage.files import FilesWorkspace
from tests.outliers.synthetic import FIRST_DAY, frame, write_project
from tests.outliers.test_oracle import figures, stored_rows

DAYS = [FIRST_DAY, FIRST_DAY + timedelta(days=1)]


def series(base: str, pid: Any, filters: list[dict[str, Any]]) -> dict[int, dict[date, float]]:
    """The UI's data_series_batch answer: filter index -> {day: value}."""
    body = json.dumps({"series_filter": filters}).encode()
    request = urllib.request.Request(
        f"{base}/api/v2/snapshots/{pid}/data_series_batch", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    days = [date.fromisoformat(s["timestamp"][:10]) for s in answer["sources"]]
    out: dict[int, dict[date, float]] = {}
    for s in answer["series"]:
        out.setdefault(s["filter_index"], {}).update(
            {d: v for d, v in zip(days, s["values"], strict=False) if v is not None}
        )
    return out


def test_the_ui_serves_the_outlier_series(tmp_path: Path) -> None:
    rng = np.random.default_rng(21)
    config = write_project(
        tmp_path, frame(rng, 2_000), {DAYS[0]: frame(rng, 600, DAYS[0]), DAYS[1]: frame(rng, 600, DAYS[1], 0.1)}
    )
    stored = {day: figures(stored_rows(config, day)) for day in DAYS}
    root = config.resolve(config.workspace)
    assert FilesWorkspace(root).list_projects()
    port = free_port()
    process = start_ui(root, port=port, log_path=tmp_path / "ui.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/api/projects", process, timeout=180)
        wanted = [
            (
                "OutRangeValueCount",
                {"column": "income", "value_type": "share"},
                ("OutRangeValueCount", "income", "share"),
            ),
            (
                "OutListValueCount",
                {"column": "channel", "value_type": "share"},
                ("OutListValueCount", "channel", "share"),
            ),
            ("MultivariateOutlierCount", {"value_type": "share"}, ("MultivariateOutlierCount", "all", "share")),
            ("OutlierQuality", {"group": "outliers"}, ("OutlierQuality", "outliers", "accuracy")),
        ]
        filters = [
            {"tags": ["daily"], "metadata": {}, "metric": f"evidently:metric_v2:{metric}", "metric_labels": labels}
            for metric, labels, _ in wanted
        ]
        served = series(base, project_id("synth"), filters)
    finally:
        stop(process)
    for index, (_, _, key) in enumerate(wanted):
        assert served[index] == {day: stored[day][key] for day in DAYS}, key
    assert served[2][DAYS[1]] > 0.05 > served[2][DAYS[0]]  # the episode day stands out
