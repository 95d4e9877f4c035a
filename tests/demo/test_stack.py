"""`evmon demo` as a user runs it: fills its days with dashboards, and stops cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from evmon.processes import free_port
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_END
from tests.run.test_backfill_cli import _alive, _descendants

EVMON = str(Path(sys.executable).with_name("evmon"))


@pytest.fixture()
def demo_home(demo_dir: Path, tmp_path: Path, clean_env: None) -> Path:
    """A folder as after a clone: projects.yaml and the demo data (copied; `evmon demo` writes beside them)."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(demo_dir / "projects.yaml", home / "projects.yaml")
    shutil.copytree(demo_dir / "demo_data", home / "demo_data")
    return home


def panel_titles(workspace: Path, project: str) -> list[str]:
    dashboard = json.loads((workspace / str(project_id(project)) / "dashboard.json").read_text())
    return [panel["title"] for panel in dashboard["panels"]]


def test_no_serve_fills_the_days_and_leaves_current_dashboards(demo_home: Path) -> None:
    done = subprocess.run(
        [EVMON, "demo", "--no-serve", "--days", "2", "--end", str(DEMO_END)],
        cwd=demo_home,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert (done.returncode, done.stderr) == (0, "")
    summary = "6 days: 4 ok, 0 already there, 2 skipped (no rows), 0 failed"
    assert f"demo days {DEMO_END.replace(day=30)}..{DEMO_END}: {summary}" in done.stdout
    # the credit service's own project: its row log holds no row of these days (no service ran then)
    assert f"credit_scorecard_live {DEMO_END} skipped: no rows" in done.stdout.splitlines()
    workspace = demo_home / "workspace"
    assert len(FilesWorkspace(workspace).list_snapshots(project_id("credit_scorecard"))) == 2
    # credit's labels are 3 days late: its last two days are unlabelled, so no segment values yet
    assert "By region" in panel_titles(workspace, "credit_scorecard")
    assert "R² (labelled days)" in panel_titles(workspace, "taxi_duration")
    # ... but their quality is estimated (CBPE), and the dashboard plots it
    assert "Estimated ROC AUC (band) vs realized" in panel_titles(workspace, "credit_scorecard")
    newest = FilesWorkspace(workspace).read_snapshot(
        project_id("credit_scorecard"), daily_snapshot_id("credit_scorecard", DEMO_END)
    )
    kinds = {r.value_kind for r in flatten(newest) if r.metric_type == "EstimatedQuality" and r.label == "roc_auc"}
    assert kinds == {"estimate", "lower", "upper", "empirical_lower", "empirical_upper", "level"}


def _serve(home: Path, pg_dsn: str) -> tuple[subprocess.Popen[str], list[str]]:
    """`evmon demo` serving, in its own process group (as a terminal runs it); its output lines, collected."""
    env = {**os.environ, "EVMON_PG_DSN": pg_dsn}
    cmd = [EVMON, "demo", "--days", "8", "--end", str(DEMO_END), "--port", str(free_port())]
    cmd += ["--app-port", str(free_port()), "--model-port", str(free_port())]
    process = subprocess.Popen(
        cmd, cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    lines: list[str] = []
    assert process.stdout is not None
    stream = process.stdout
    threading.Thread(target=lambda: lines.extend(stream), daemon=True).start()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not any(re.search(r" ok: \d+ rows", line) for line in lines):
        assert process.poll() is None, "".join(lines)
        time.sleep(0.2)
    assert any(" ok: " in line for line in lines), "".join(lines)
    return process, lines


@pytest.mark.parametrize(("sig", "code", "said"), [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 0, "SIGTERM")])
def test_a_stop_while_the_days_fill_is_one_line_and_no_traceback(
    demo_home: Path, pg_dsn: str, sig: signal.Signals, code: int, said: str
) -> None:
    process, lines = _serve(demo_home, pg_dsn)
    helpers = _descendants(process.pid)
    if sig == signal.SIGINT:
        os.killpg(process.pid, sig)  # Ctrl-C in a terminal reaches the whole foreground group
    else:
        process.send_signal(sig)  # `kill PID`, or a service manager stopping it
    assert process.wait(timeout=120) == code, "".join(lines)
    time.sleep(0.5)
    output = "".join(lines)
    assert "Traceback" not in output and "BrokenProcessPool" not in output, output
    assert f"{said}: stopping the demo\n" in lines
    assert "demo days" in output and "the next `evmon demo` fills the rest" in output
    assert "credit model service: http://127.0.0.1:" in output and "demo traffic: 20 requests/s" in output
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in helpers):
        time.sleep(0.2)
    # the UI, the app, the model, its traffic and the workers are gone too
    assert [pid for pid in helpers if _alive(pid)] == []
