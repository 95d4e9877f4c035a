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
import pytest
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataSummaryPreset

from evmon.bridge.parse import build_record
from evmon.config.loader import load_config
from evmon.evidently.report import snapshot_bytes
from evmon.snapshot import codec, contract
from evmon.snapshot.catalog import catalog, entry_from_header
from evmon.snapshot.flatten import NAN_SENTINELS
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.compaction import compact_project
from evmon.storage.files import FilesWorkspace
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
    ws = FilesWorkspace(demo_workspace)
    header = ws.read_snapshot_header(project_id(CREDIT), daily_snapshot_id(CREDIT, DEMO_END))
    meta = contract.meta_of(header)
    assert (meta.kind, meta.day, meta.daily, meta.compacted) == ("daily", DEMO_END, True, False)
    assert meta.labels is False and meta.tags == ("daily",)  # credit's labels are 3 days late
    assert meta.rows is not None and meta.rows > 100
    assert meta.config_hash == load_config(demo_dir / "projects.yaml").project(CREDIT).config_hash()
    full = ws.read_snapshot(project_id(CREDIT), daily_snapshot_id(CREDIT, DEMO_END))
    assert contract.meta_of(full) == meta  # the header and the whole file say the same


def test_the_writer_gives_strings_only_and_the_reader_types_them_back() -> None:
    written = contract.daily_metadata(
        "p",
        date(2026, 3, 1),
        rows=12,
        labels=True,
        config_hash="abc",
        evmon_version="0.1.0",
        prediction_column="score",
        estimation=contract.Estimation(rows=10, dropped_rows=2),
    )
    assert written == {
        "evmon_kind": "daily",
        "project": "p",
        "rows": "12",
        "labels": "yes",
        "config_hash": "abc",
        "evmon_version": "0.1.0",
        "day": "2026-03-01",
        "prediction_column": "score",
        "estimation_rows": "10",
        "estimation_dropped_rows": "2",
    }
    meta = contract.meta_of({"metadata": written, "tags": contract.daily_tags(True)})
    assert (meta.kind, meta.day, meta.rows, meta.labels, meta.tags) == (
        "daily",
        date(2026, 3, 1),
        12,
        True,
        ("daily", "labelled"),
    )
    assert meta.prediction_column == "score" and meta.has_estimates and meta.labelled_daily
    assert meta.estimation == contract.Estimation(rows=10, dropped_rows=2)
    failed = contract.daily_metadata(
        "p",
        date(2026, 3, 1),
        rows=1,
        labels=False,
        config_hash="a",
        evmon_version="v",
        prediction_column="",
        estimation=contract.Estimation(error="no calibration rows"),
    )
    meta = contract.meta_of({"metadata": failed, "tags": contract.daily_tags(False)})
    assert meta.estimation == contract.Estimation(error="no calibration rows") and not meta.has_estimates
    assert meta.prediction_column is None and not meta.labelled_daily


def test_a_whatif_records_its_window_and_who_saved_it() -> None:
    what = contract.WhatIfWindow("2026-03-01..2026-03-07", date(2026, 3, 1), date(2026, 3, 7), "reference", "{}", "h0")
    written = contract.whatif_metadata("p", rows=5, labels=False, config_hash="h1", evmon_version="v", what=what)
    assert list(written) == [
        "evmon_kind",
        "project",
        "rows",
        "labels",
        "config_hash",
        "evmon_version",
        "day",
        "window",
        "window_start",
        "window_end",
        "reference",
        "overrides",
        "base_config_hash",
    ]  # the order snapshots are written in (compared byte for byte across versions)
    meta = contract.meta_of({"metadata": {**written, **contract.signed("ana@example.com")}, "tags": ["whatif"]})
    assert (meta.kind, meta.day, meta.window, meta.reference, meta.overrides, meta.who) == (
        "whatif",
        date(2026, 3, 1),
        "2026-03-01..2026-03-07",
        "reference",
        "{}",
        "ana@example.com",
    )
    assert not meta.daily and not meta.compacted


def test_the_strict_reader_names_what_is_malformed() -> None:
    with pytest.raises(contract.ContractError, match=r"^metadata: expected an object, got list$"):
        contract.checked_meta({"metadata": ["x"]})
    with pytest.raises(contract.ContractError, match=r"^tags: expected a list, got str$"):
        contract.checked_meta({"metadata": {}, "tags": "daily"})
    assert contract.checked_meta({}) == contract.meta_of({})  # nothing at all: another tool's snapshot


def test_compaction_marks_and_unmarks() -> None:
    doc = {"metadata": {"day": "2026-03-01"}, "tags": []}
    marked = contract.compacted(doc)
    assert contract.meta_of(marked).compacted and not contract.meta_of(doc).compacted
    assert contract.uncompacted(marked) == doc


def test_a_snapshot_evmon_did_not_write_is_other_everywhere(
    demo_workspace: Path, demo_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "workspace"
    shutil.copytree(demo_workspace, root)
    ws = FilesWorkspace(root)
    pid = project_id(CREDIT)
    sid = uuid.uuid4()
    file = ws.write_snapshot(pid, sid, foreign_snapshot())
    os.utime(file.path, ns=(file.mtime_ns - 10**12, file.mtime_ns - 10**12))  # old: compaction's age rule applies
    header = ws.read_snapshot_header(pid, sid)
    assert contract.meta_of(header).kind == contract.OTHER

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
    data = codec.dumps(doc)
    assert b"NaN" in data and b"Infinity" in data  # as Evidently writes them
    exact = codec.loads_exact(data)["metric_results"]["m"]
    assert math.isnan(exact["value"]) and exact["big"] == math.inf
    fast = codec.loads(data)["metric_results"]["m"]  # sentinels, read back as floats by the flattening
    assert math.isnan(NAN_SENTINELS[fast["value"]]) and NAN_SENTINELS[fast["big"]] == math.inf
    path = tmp_path / "s.json"
    path.write_bytes(data)
    assert codec.read_header(path) == {k: doc[k] for k in ("name", "timestamp", "metadata", "tags")}
    late = {**doc, "metric_results": {}, "report": {"pad": "y" * 100_000}}  # the keys after 64 KB: a full read
    path.write_bytes(json.dumps({"report": late["report"], **{k: late[k] for k in codec.HEADER_KEYS}}).encode())
    assert codec.read_header(path)["metadata"] == {"day": "2026-03-01"}
    assert codec.unarchived(codec.archived(data)) == data
