"""`evmon run` and `evmon backfill`: exact output, exit codes, resumability, SIGKILL safety."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from evmon.cli import cli
from evmon.snapshot.ids import project_id
from evmon.storage.files import FilesWorkspace
from evmon.storage.runlog import RunLog
from tests.conftest import DEMO_END, DEMO_TODAY

START, END = date(2026, 3, 5), date(2026, 3, 11)
TODAY = ("--today", "2026-03-12")  # every day within retention.full_days: kept full, no compaction line


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def snapshot_days(workspace: Path, project: str) -> dict[str, tuple[int, int]]:
    """day -> (rows, mtime_ns) of every snapshot file of a project."""
    ws = FilesWorkspace(workspace)
    out = {}
    for f in ws.list_snapshots(project_id(project)):
        meta = json.loads(f.path.read_bytes())["metadata"]
        out[meta["day"]] = (int(meta["rows"]), f.mtime_ns)
    return out


def test_backfill_is_resumable_and_force_replaces(demo_config_path: Path, workspace_path: Path) -> None:
    cfg = str(demo_config_path)
    code, out, err = invoke("backfill", "taxi_duration", "-c", cfg, "--start", str(START), "--end", str(END), *TODAY)
    assert code == 0
    assert out == "taxi_duration: 7 days: 7 ok, 0 already there, 0 skipped (no rows), 0 failed\n"
    first = snapshot_days(workspace_path, "taxi_duration")
    expected_days = [str(START + timedelta(days=i)) for i in range(7)]
    assert progress_days(err, 7) == {day: "ok" for day in expected_days}
    assert sorted(first) == expected_days
    daily = demo_config_path.parent / "demo_data" / "taxi_duration" / "daily"
    assert {d: rows for d, (rows, _) in first.items()} == {
        d: len(pd.read_parquet(daily / f"{d}.parquet")) for d in expected_days
    }
    stamps = sorted(
        json.loads(f.path.read_bytes())["timestamp"]
        for f in FilesWorkspace(workspace_path).list_snapshots(project_id("taxi_duration"))
    )
    assert stamps == [f"{d}T00:00:00" for d in expected_days]

    code, out, err = invoke("backfill", "taxi_duration", "-c", cfg, "--start", str(START), "--end", str(END), *TODAY)
    assert (code, out) == (0, "taxi_duration: 7 days: 0 ok, 7 already there, 0 skipped (no rows), 0 failed\n")
    assert err == ""  # days already there only count
    assert snapshot_days(workspace_path, "taxi_duration") == first

    code, out, err = invoke(
        "backfill", "taxi_duration", "-c", cfg, "--start", str(START), "--end", str(END), "--force", *TODAY
    )
    assert (code, out) == (0, "taxi_duration: 7 days: 7 ok, 0 already there, 0 skipped (no rows), 0 failed\n")
    assert progress_days(err, 7) == {day: "ok" for day in expected_days}
    forced = snapshot_days(workspace_path, "taxi_duration")
    assert sorted(forced) == expected_days
    assert all(forced[d][1] > first[d][1] and forced[d][0] == first[d][0] for d in expected_days)


def progress_days(err: str, total: int) -> dict[str, str]:
    """day -> outcome of the progress lines a backfill prints on stderr without a terminal, numbered 1..total."""
    pattern = rf"\[(\d+)/{total}\] taxi_duration (\S+) (ok|failed): .*"
    found = [re.fullmatch(pattern, line) for line in err.splitlines()]
    assert all(found), err
    assert [int(m[1]) for m in found if m] == list(range(1, len(found) + 1)), err
    return {m[2]: m[3] for m in found if m}


def test_without_a_terminal_a_backfill_prints_each_day_as_it_finishes(
    demo_config_path: Path, workspace_path: Path, tmp_path: Path
) -> None:
    """Output to a file: first day's line is there while it still runs (it printed nothing until the end)."""
    start, end = DEMO_END - timedelta(days=5), DEMO_END
    evmon = str(Path(sys.executable).with_name("evmon"))
    cmd = [evmon, "backfill", "taxi_duration", "-c", str(demo_config_path), "--start", str(start), "--end", str(end)]
    env = {**os.environ, "EVMON_WORKSPACE": str(workspace_path)}
    log = tmp_path / "backfill.log"
    with log.open("w") as err:
        process = subprocess.Popen([*cmd, "--workers", "1"], env=env, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not log.read_text() and process.poll() is None:
            time.sleep(0.05)
        first_line_while_running = process.poll() is None and log.read_text()
        assert process.wait(300) == 0
    assert first_line_while_running
    first = rf"\[1/6\] taxi_duration {start} ok: \d+ rows, with(out)? labels, \d+\.\ds\n"
    assert re.fullmatch(first, first_line_while_running)
    lines = log.read_text().splitlines()
    assert [line.split()[:2] for line in lines] == [[f"[{i}/6]", "taxi_duration"] for i in range(1, 7)]
    assert [line.split()[2] for line in lines] == [str(start + timedelta(days=i)) for i in range(6)]


def test_run_prints_one_line_and_maps_errors(demo_config_path: Path) -> None:
    cfg = str(demo_config_path)
    code, out, err = invoke("run", "taxi_duration", "-c", cfg, "--day", "2026-03-11", *TODAY)
    assert (code, err) == (0, "")
    assert re.fullmatch(r"taxi_duration 2026-03-11 ok: \d+ rows, with labels, \d+\.\ds\n", out), out

    code, out, err = invoke("run", "nope", "-c", cfg, "--day", "2026-03-11")
    assert (code, out) == (2, "")
    names = "credit_scorecard, taxi_duration, credit_scorecard_live"
    assert err == f"Error: no project named 'nope' in {cfg}; projects: {names}\n"

    code, out, err = invoke("run", "taxi_duration", "-c", cfg, "--day", "2026-13-01")
    assert code == 2
    assert "Invalid value for '--day': '2026-13-01' is not a date; expected YYYY-MM-DD" in err

    code, out, err = invoke("backfill", "taxi_duration", "-c", cfg, "--start", "2026-03-05", "--end", "2026-03-01")
    assert code == 2
    assert "Invalid value for --end: --end 2026-03-01 is before --start 2026-03-05" in err


def test_run_exits_1_when_the_day_fails(demo_config_path: Path, tmp_path: Path) -> None:
    text = (
        demo_config_path.read_text()
        .replace("path: demo_data/taxi_duration/daily/*.parquet", f"path: {tmp_path}/missing/*.parquet")
        .replace(
            "path: demo_data/taxi_duration/reference.parquet",
            f"path: {demo_config_path.parent}/demo_data/taxi_duration/reference.parquet",
        )
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("demo_data/credit", f"{demo_config_path.parent}/demo_data/credit"))
    code, out, err = invoke("run", "taxi_duration", "-c", str(broken), "--day", "2026-03-11")
    assert (code, err) == (1, "")
    assert out == (
        f"taxi_duration 2026-03-11 failed: taxi_duration: source.path '{tmp_path}/missing/*.parquet' matches no file "
        f"(looked for {tmp_path}/missing/*.parquet)\n"
    )


def test_a_backfill_killed_mid_way_leaves_no_partial_file_and_resumes(
    demo_config_path: Path, workspace_path: Path
) -> None:
    start, end = DEMO_END - timedelta(days=6), DEMO_END
    cmd = [
        sys.executable,
        "-m",
        "evmon.cli",
        "backfill",
        "credit_scorecard",
        "-c",
        str(demo_config_path),
        "--start",
        str(start),
        "--end",
        str(end),
        "--workers",
        "2",
    ]
    env = {**os.environ, "EVMON_WORKSPACE": str(workspace_path)}
    process = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    snapshots = workspace_path / str(project_id("credit_scorecard")) / "snapshots"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(list(snapshots.glob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)
    time.sleep(0.5)  # let orphaned workers notice and die
    written = list(snapshots.glob("*.json"))
    assert 2 <= len(written) < 7
    for path in written:
        json.loads(path.read_bytes())  # every file the workspace holds is whole
    assert [
        p
        for p in workspace_path.rglob("*")
        if p.is_file() and p.suffix not in {".json", ".lock", ".sqlite3"} and not p.name.endswith(("-wal", "-shm"))
    ] == []

    code, out, _ = invoke(
        "backfill",
        "credit_scorecard",
        "-c",
        str(demo_config_path),
        "--start",
        str(start),
        "--end",
        str(end),
        "--today",
        str(DEMO_TODAY),
    )
    assert code == 0
    match = re.fullmatch(
        r"credit_scorecard: 7 days: (\d) ok, (\d) already there, 0 skipped \(no rows\), 0 failed\n", out
    )
    assert match is not None, out
    assert int(match.group(1)) + int(match.group(2)) == 7 and int(match.group(2)) >= 2
    assert len(snapshot_days(workspace_path, "credit_scorecard")) == 7
    assert list(FilesWorkspace(workspace_path).staging.iterdir()) == []
    ok_days = [r.day for r in RunLog(workspace_path / ".evmon").records("credit_scorecard") if r.status == "ok"]
    assert sorted(set(ok_days)) == [start + timedelta(days=i) for i in range(7)]


def _descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children, their children, ...), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        found |= children
        frontier = children
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_kill_9_of_the_backfill_process_ends_its_workers(demo_config_path: Path, workspace_path: Path) -> None:
    """Only the main process is killed (as by the OOM killer or `kill -9 PID`): its workers must not go on."""
    start, end = DEMO_END - timedelta(days=9), DEMO_END
    evmon = str(Path(sys.executable).with_name("evmon"))
    cmd = [evmon, "backfill", "credit_scorecard", "-c", str(demo_config_path), "--start", str(start), "--end", str(end)]
    env = {**os.environ, "EVMON_WORKSPACE": str(workspace_path)}
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    snapshots = workspace_path / str(project_id("credit_scorecard")) / "snapshots"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list(snapshots.glob("*.json")):
        time.sleep(0.05)
    helpers = _descendants(process.pid)
    assert len(helpers) >= 2  # the two processes computing days
    process.kill()
    process.wait(30)
    killed_at = time.time()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in helpers):
        time.sleep(0.1)
    assert [pid for pid in helpers if _alive(pid)] == []
    written = {p.name for p in snapshots.glob("*.json")}
    time.sleep(2)
    assert {p.name for p in snapshots.glob("*.json")} == written  # nobody is still computing days
    runs = RunLog(workspace_path / ".evmon").records("credit_scorecard")
    assert all(r.started_at.timestamp() < killed_at for r in runs)

    code, out, _ = invoke(
        "backfill", "credit_scorecard", "-c", str(demo_config_path), "--start", str(start), "--end", str(end)
    )
    assert code == 0, out
    assert len(snapshot_days(workspace_path, "credit_scorecard")) == 10


def test_a_backfill_run_beside_a_folder_named_evmon(
    demo_config_path: Path, workspace_path: Path, tmp_path: Path
) -> None:
    """A clone of this repository in the working directory must not replace the installed package in the workers."""
    here = tmp_path / "projects-home"
    (here / "evmon").mkdir(parents=True)  # `git clone ... evmon` from here: a folder without __init__.py
    evmon = str(Path(sys.executable).with_name("evmon"))
    cmd = [evmon, "backfill", "taxi_duration", "-c", str(demo_config_path)]
    cmd += ["--start", str(DEMO_END - timedelta(days=2)), "--end", str(DEMO_END), "--workers", "2"]
    cmd += ["--today", str(DEMO_TODAY)]  # the days within retention.full_days: no compaction line
    env = {**os.environ, "EVMON_WORKSPACE": str(workspace_path)}
    done = subprocess.run(cmd, env=env, cwd=here, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(progress_days(done.stderr, 3).values()) == ["ok"] * 3
    assert done.stdout == "taxi_duration: 3 days: 3 ok, 0 already there, 0 skipped (no rows), 0 failed\n"


def test_config_before_the_command_and_after_it_wins(demo_config_path: Path, tmp_path: Path) -> None:
    cfg, day = str(demo_config_path), "2026-03-11"
    code, out, err = invoke("-c", cfg, "run", "taxi_duration", "--day", day)
    assert (code, err) == (0, "") and out.startswith(f"taxi_duration {day} ok: ")
    missing = str(tmp_path / "nope.yaml")
    code, out, err = invoke("-c", missing, "run", "taxi_duration", "-c", cfg, "--day", day)
    assert (code, err) == (0, "") and out.startswith(f"taxi_duration {day} ok: ")
    code, out, err = invoke("-c", cfg, "run", "taxi_duration", "-c", missing, "--day", day)
    assert (code, out) == (2, "")
    assert err == f"Error: {missing}: file not found; expected a projects.yaml (point -c/--config at it)\n"


def test_a_day_another_process_runs_is_busy_logged_and_exits_3(demo_config_path: Path, workspace_path: Path) -> None:
    day = date(2026, 3, 11)
    with FilesWorkspace(workspace_path).day_lock("taxi_duration", day) as held:
        assert held
        code, out, err = invoke("run", "taxi_duration", "-c", str(demo_config_path), "--day", str(day))
    assert (code, out, err) == (3, f"taxi_duration {day} busy: another process is running this day\n", "")
    (busy,) = RunLog(workspace_path / ".evmon").records("taxi_duration")
    assert (busy.status, busy.day, busy.trigger, busy.snapshot_id) == ("busy", day, "cli", None)
    assert busy.error == "another process was running this project-day"
    assert FilesWorkspace(workspace_path).list_snapshots(project_id("taxi_duration")) == []


def test_backfill_and_run_leave_each_project_with_its_current_dashboard(
    demo_config_path: Path, workspace_path: Path
) -> None:
    """After a backfill of labelled days the UI shows every panel, segments included (no 'appear here' text)."""
    cfg = str(demo_config_path)
    labelled = [str(DEMO_END - timedelta(days=5)), str(DEMO_END - timedelta(days=4))]
    code, out, _ = invoke("backfill", "credit_scorecard", "-c", cfg, "--start", labelled[0], "--end", labelled[1])
    assert code == 0, out
    dashboard = json.loads((workspace_path / str(project_id("credit_scorecard")) / "dashboard.json").read_text())
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert {"Share of drifted columns", "Model quality (labelled days)", "F1 score by region"} <= set(titles)
    assert "By region" not in titles  # the text panel waiting for labelled days is gone
    regions = {v["legend"] for p in dashboard["panels"] if p["title"] == "F1 score by region" for v in p["values"]}
    assert regions == {"all", "north", "south", "east", "west"}

    code, out, _ = invoke("run", "taxi_duration", "-c", cfg, "--day", str(DEMO_END))
    assert code == 0, out
    assert (workspace_path / str(project_id("taxi_duration")) / "dashboard.json").is_file()
