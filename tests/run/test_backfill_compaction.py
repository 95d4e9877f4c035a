"""A backfill compacts what it leaves older than retention.full_days, as the scheduler does."""

from __future__ import annotations

import gzip
import json
from datetime import date, timedelta
from pathlib import Path

from click.testing import CliRunner

from evmon.cli import cli
from evmon.snapshot import codec
from evmon.snapshot.contract import meta_of
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_END, DEMO_TODAY
from tests.run.test_backfill_cli import progress_days

TAXI = "taxi_duration"
START = DEMO_END - timedelta(days=4)  # 5 days; with full_days 2 on DEMO_TODAY: 3 old, 2 recent
DAYS = [START + timedelta(days=i) for i in range(5)]
OLD, RECENT = DAYS[:3], DAYS[3:]


def short_retention(demo_dir: Path, tmp_path: Path) -> Path:
    """The demo config, its data paths absolute, taxi_duration keeping 2 days full."""
    text = (demo_dir / "projects.yaml").read_text().replace("path: demo_data/", f"path: {demo_dir}/demo_data/")
    before, taxi = text.split(f"  - name: {TAXI}\n", 1)
    head, tail = taxi.split("max_catchup_days: 14", 1)  # taxi_duration's own
    path = tmp_path / "projects.yaml"
    path.write_text(f"{before}  - name: {TAXI}\n{head}max_catchup_days: 14\n    retention: {{full_days: 2}}{tail}")
    return path


def backfill(config: Path) -> tuple[int, str, str]:
    args = ["backfill", TAXI, "-c", str(config), "--start", str(START), "--end", str(DEMO_END)]
    result = CliRunner().invoke(cli, [*args, "--today", str(DEMO_TODAY)])
    return result.exit_code, result.stdout, result.stderr


def state(ws: FilesWorkspace, day: date) -> tuple[bool, bool, int]:
    """What a user checks of a day: its file compacted (metadata and no widgets), its archive there, mtime."""
    pid, sid = project_id(TAXI), daily_snapshot_id(TAXI, day)
    path = ws.snapshot_path(pid, sid)
    doc = json.loads(path.read_bytes())
    compacted = meta_of(doc).compacted
    assert compacted == (doc["widgets"] == []), day
    return compacted, ws.archive_path(pid, sid).exists(), path.stat().st_mtime_ns


def test_a_backfill_compacts_its_old_days_and_a_rerun_changes_nothing(
    demo_dir: Path, demo_config_path: Path, workspace_path: Path, tmp_path: Path
) -> None:
    config = short_retention(demo_dir, tmp_path)
    code, out, err = backfill(config)
    assert code == 0
    assert sorted(progress_days(err, 5).values()) == ["ok"] * 5  # stderr is not a terminal: a line per day
    assert out == (
        f"{TAXI}: 5 days: 5 ok, 0 already there, 0 skipped (no rows), 0 failed\n"
        f"{TAXI}: 3 compacted, 0 already compacted, 2 kept full\n"
    )
    ws = FilesWorkspace(workspace_path)
    first = {day: state(ws, day) for day in DAYS}
    assert {day: first[day][:2] for day in DAYS} == {
        **{day: (True, True) for day in OLD},
        **{day: (False, False) for day in RECENT},
    }
    pid = project_id(TAXI)
    for day in OLD:  # the archive is the whole original: the compacted file keeps a part of its values
        sid = daily_snapshot_id(TAXI, day)
        original = codec.loads_exact(gzip.decompress(ws.archive_path(pid, sid).read_bytes()))
        assert not meta_of(original).compacted and original["widgets"]
        kept, full = flatten(ws.read_snapshot(pid, sid)), flatten(original)
        assert kept and len(kept) < len(full) and all(row in full for row in kept)

    code, out, err = backfill(config)  # idempotent: nothing to run, nothing to compact, no file touched
    assert (code, out, err) == (0, f"{TAXI}: 5 days: 0 ok, 5 already there, 0 skipped (no rows), 0 failed\n", "")
    assert {day: state(ws, day) for day in DAYS} == first
