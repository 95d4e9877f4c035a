"""The snapshot contract (evmon/snapshot/contract.py): one reader, one writer, one default for foreign snapshots."""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from datetime import date
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataSummaryPreset

from evmon.bridge.parse import build_record
from evmon.config.loader import load_config
from evmon.evidently.report import snapshot_bytes
from evmon.snapshot import contract as snapshot
from evmon.snapshot.catalog import catalog, entry_from_header
from evmon.snapshot.flatten import NAN_SENTINELS
from evmon.storage.compaction import compact_project
from evmon.storage.files import Workspace, daily_snapshot_id, project_id
from tests.conftest import DEMO_END

CREDIT = "credit_scorecard"


def foreign_snapshot() -> bytes:
    """A snapshot of someone's own Evidently Report, without any of evmon's metadata."""
    frame = pd.DataFrame({"x": [1.0, 2.0, float("nan")], "y": ["a", "b", "a"]})
    dataset = Dataset.from_pandas(
        frame, data_definition=DataDefinition(numerical_columns=["x"], categorical_columns=["y"])
    )
    model = Report([DataSummaryPreset()]).run(dataset, None).to_snapshot_model()
    model.metadata = {"team": "risk"}
    model.tags = ["nightly"]
    return snapshot_bytes(model)


def test_evmons_daily_snapshot_reads_back_what_the_runner_wrote(demo_workspace: Path, demo_dir: Path) -> None:
    ws = Workspace(demo_workspace)
    header = ws.read_snapshot_header(project_id(CREDIT), daily_snapshot_id(CREDIT, DEMO_END))
    meta = snapshot.meta_of(header)
    assert (meta.kind, meta.day, meta.daily, meta.compacted) == ("daily", DEMO_END, True, False)
    assert meta.labels is False and meta.tags == ("daily",)  # credit's labels are 3 days late
    assert meta.rows is not None and meta.rows > 100
    assert meta.config_hash == load_config(demo_dir / "projects.yaml").project(CREDIT).config_hash()
    full = ws.read_snapshot(project_id(CREDIT), daily_snapshot_id(CREDIT, DEMO_END))
    assert snapshot.meta_of(full) == meta  # the header and the whole file say the same


def test_the_writer_gives_strings_only() -> None:
    written = snapshot.metadata(
        snapshot.DAILY, "p", day=date(2026, 3, 1), rows=12, labels=True, config_hash="abc", evmon_version="0.1.0", x="y"
    )
    assert written == {
        "evmon_kind": "daily",
        "project": "p",
        "rows": "12",
        "labels": "yes",
        "config_hash": "abc",
        "evmon_version": "0.1.0",
        "day": "2026-03-01",
        "x": "y",
    }
    meta = snapshot.meta_of({"metadata": written, "tags": snapshot.daily_tags(True)})
    assert (meta.kind, meta.day, meta.rows, meta.labels, meta.tags) == (
        "daily",
        date(2026, 3, 1),
        12,
        True,
        ("daily", "labelled"),
    )


def test_a_snapshot_evmon_did_not_write_is_other_everywhere(
    demo_workspace: Path, demo_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "workspace"
    shutil.copytree(demo_workspace, root)
    ws = Workspace(root)
    pid = project_id(CREDIT)
    sid = uuid.uuid4()
    file = ws.write_snapshot(pid, sid, foreign_snapshot())
    os.utime(file.path, ns=(file.mtime_ns - 10**12, file.mtime_ns - 10**12))  # old: compaction's age rule applies
    header = ws.read_snapshot_header(pid, sid)
    assert snapshot.meta_of(header).kind == snapshot.OTHER

    entries = [
        entry_from_header(str(f.snapshot_id), ws.read_snapshot_header(pid, f.snapshot_id), f.size, f.mtime_ns)
        for f in ws.list_snapshots(pid)
    ]
    kept = catalog(entries)
    assert [e.snapshot_id for e in kept.other] == [str(sid)] and str(sid) not in {
        e.snapshot_id for e in kept.daily.values()
    }

    (listed,) = [f for f in ws.list_snapshots(pid) if f.snapshot_id == sid]
    record = build_record(listed, CREDIT, listed.path.read_bytes(), listed.size, listed.mtime_ns)
    assert (record.kind, record.day, record.rows) == ("other", None, None)  # the bridge: not in Grafana's daily panels

    before = listed.path.read_bytes()
    compact_project(
        load_config(demo_dir / "projects.yaml"),
        load_config(demo_dir / "projects.yaml").project(CREDIT),
        ws,
        today=date(2027, 1, 1),
    )
    assert listed.path.read_bytes() == before  # compaction leaves it alone


def test_json_keeps_non_finite_values_and_the_header_skips_the_results(tmp_path: Path) -> None:
    doc = {
        "name": "n",
        "timestamp": "2026-03-01T00:00:00",
        "metadata": {"day": "2026-03-01"},
        "tags": ["daily"],
        "metric_results": {"m": {"value": float("nan"), "big": float("inf"), "pad": "x" * 100_000}},
    }
    data = snapshot.dumps(doc)
    assert b"NaN" in data and b"Infinity" in data  # as Evidently writes them
    exact = snapshot.loads_exact(data)["metric_results"]["m"]
    assert math.isnan(exact["value"]) and exact["big"] == math.inf
    fast = snapshot.loads(data)["metric_results"]["m"]  # sentinels, read back as floats by the flattening
    assert math.isnan(NAN_SENTINELS[fast["value"]]) and NAN_SENTINELS[fast["big"]] == math.inf
    path = tmp_path / "s.json"
    path.write_bytes(data)
    assert snapshot.read_header(path) == {k: doc[k] for k in ("name", "timestamp", "metadata", "tags")}
    late = {**doc, "metric_results": {}, "report": {"pad": "y" * 100_000}}  # the keys after 64 KB: a full read
    path.write_bytes(json.dumps({"report": late["report"], **{k: late[k] for k in snapshot.HEADER_KEYS}}).encode())
    assert snapshot.read_header(path)["metadata"] == {"day": "2026-03-01"}
    assert snapshot.unarchived(snapshot.archived(data)) == data
