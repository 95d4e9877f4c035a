"""The stock `evidently ui` (a process that never imports evmon) serves the stored fairness values."""

from __future__ import annotations

import json
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

from evmon.processes import free_port, stop, wait_ready
from evmon.run.day import run_day
from evmon.services.ui import start_ui
from evmon.snapshot.ids import project_id
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_TODAY
from tests.fairness.test_day import config_with_fairness, stored_fairness

DAYS = [date(2026, 3, 10), date(2026, 3, 11)]


def post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_the_ui_serves_each_days_disparate_impact(tmp_path: Path, demo_dir: Path) -> None:
    config = config_with_fairness(tmp_path, demo_dir)
    ws = FilesWorkspace(tmp_path / "ws")
    for day in DAYS:
        assert run_day(config, config.projects[0], day, workspace=ws, today=DEMO_TODAY).outcome == "ok"
    stored = {day: stored_fairness(ws, day)[0] for day in DAYS}
    port = free_port()
    process = start_ui(tmp_path / "ws", port=port, log_path=tmp_path / "ui.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/api/projects", process, timeout=180)
        series = [
            {"column": "region", "measure": "demographic_parity_ratio"},
            {"column": "region", "measure": "selection_rate", "group": "south"},
            {"column": "region", "measure": "estimated_quality_gap"},
            {"column": "region", "measure": "estimated_accuracy", "group": "south"},
        ]
        filters = [
            {"tags": [], "metadata": {}, "metric": "evidently:metric_v2:FairnessValue", "metric_labels": labels}
            for labels in series
        ]
        pid = project_id("credit_scorecard")
        answer = post(f"{base}/api/v2/snapshots/{pid}/data_series_batch", {"series_filter": filters})
    finally:
        stop(process)
    served_days = [date.fromisoformat(s["timestamp"][:10]) for s in answer["sources"]]
    assert served_days == DAYS
    by_filter = {s["filter_index"]: s["values"] for s in answer["series"]}
    assert by_filter[0] == [stored[d]["region", "demographic_parity_ratio", None] for d in DAYS]
    assert by_filter[1] == [stored[d]["region", "selection_rate", "south"] for d in DAYS]
    assert by_filter[2] == [stored[d]["region", "estimated_quality_gap", None] for d in DAYS]
    assert by_filter[3] == [stored[d]["region", "estimated_accuracy", "south"] for d in DAYS]
