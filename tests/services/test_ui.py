"""The real `evidently ui` on an evmon workspace: lists projects and snapshots, sees new ones live.

And `evmon ui`, the command, as a real process: unreadable snapshot files are quarantined before
the UI starts, the UI's output is kept, its write API is closed, and Chromium still reads it all.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evmon.config.loader import load_config
from evmon.processes import free_port, stop, wait_ready
from evmon.services.ui import SECRET_ENV, start_ui, ui_secret
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from tests.browser import launch_chromium, needs_chromium
from tests.conftest import DEMO_END, DEMO_LIVE, DEMO_WORKSPACE_DAYS, REPO


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


@pytest.fixture()
def served(demo_workspace: Path, tmp_path: Path) -> Iterator[tuple[str, FilesWorkspace]]:
    root = tmp_path / "workspace"
    shutil.copytree(demo_workspace, root)
    port = free_port()
    process = start_ui(root, port=port, log_path=tmp_path / "ui.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/api/projects", process, timeout=180)
        yield base, FilesWorkspace(root)
    finally:
        stop(process)


def snapshot_names(base: str, pid: uuid.UUID) -> set[str]:
    return {s["name"] for s in get(f"{base}/api/projects/{pid}/snapshots")}


def wait_for(predicate, timeout: float = 15.0) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not seen within {timeout}s")


def restamped(ws: FilesWorkspace, project: str, source_day: date, new_day: date) -> bytes:
    """A real snapshot of `source_day`, re-dated to `new_day`."""
    data = ws.read_snapshot(project_id(project), daily_snapshot_id(project, source_day))
    data["timestamp"] = datetime.combine(new_day, datetime.min.time()).isoformat()
    data["name"] = f"{project} {new_day}"
    data["metadata"] = {**data["metadata"], "day": new_day.isoformat()}
    return json.dumps(data).encode()


def test_the_ui_lists_projects_and_snapshots(served: tuple[str, FilesWorkspace]) -> None:
    base, _ = served
    projects = {p["name"]: p for p in get(base + "/api/projects")}
    assert set(projects) == {"credit_scorecard", "taxi_duration"}
    assert projects["credit_scorecard"]["id"] == str(project_id("credit_scorecard"))
    snapshots = get(f"{base}/api/projects/{project_id('credit_scorecard')}/snapshots")
    assert len(snapshots) == DEMO_WORKSPACE_DAYS
    newest = max(snapshots, key=lambda s: s["timestamp"])
    assert newest["timestamp"] == f"{DEMO_END}T00:00:00"
    assert newest["id"] == str(daily_snapshot_id("credit_scorecard", DEMO_END))
    assert newest["metadata"]["day"] == str(DEMO_END)


def test_a_new_snapshot_appears_without_a_reload(served: tuple[str, FilesWorkspace]) -> None:
    base, ws = served
    pid = project_id("taxi_duration")
    new_day = date(2026, 4, 1)
    ws.write_snapshot(
        pid, daily_snapshot_id("taxi_duration", new_day), restamped(ws, "taxi_duration", DEMO_END, new_day)
    )
    seconds = wait_for(lambda: f"taxi_duration {new_day}" in snapshot_names(base, pid))
    assert seconds < 15


def test_a_replaced_snapshot_is_seen_and_stays_one(served: tuple[str, FilesWorkspace]) -> None:
    base, ws = served
    pid, sid = project_id("taxi_duration"), daily_snapshot_id("taxi_duration", DEMO_END)
    data = ws.read_snapshot(pid, sid)
    data["metadata"]["rows"] = "123456"
    ws.write_snapshot(pid, sid, json.dumps(data).encode())

    def replaced() -> bool:
        listed = [s for s in get(f"{base}/api/projects/{pid}/snapshots") if s["id"] == str(sid)]
        return len(listed) == 1 and listed[0]["metadata"]["rows"] == "123456"

    wait_for(replaced)
    assert len(get(f"{base}/api/projects/{pid}/snapshots")) == DEMO_WORKSPACE_DAYS


def test_a_new_project_appears_with_its_snapshot(served: tuple[str, FilesWorkspace]) -> None:
    base, ws = served
    pid = ws.ensure_project("fresh_model", "created while the UI runs")
    ws.write_snapshot(
        pid, daily_snapshot_id("fresh_model", DEMO_END), restamped(ws, "taxi_duration", DEMO_END, DEMO_END)
    )
    wait_for(lambda: "fresh_model" in {p["name"] for p in get(base + "/api/projects")})
    wait_for(lambda: len(get(f"{base}/api/projects/{pid}/snapshots")) == 1)


def test_the_project_list_shows_each_projects_owner_and_tags(served: tuple[str, FilesWorkspace]) -> None:
    """The UI's project list (its /api/projects, what its home page lists) describes credit_scorecard with
    its owner and tags from projects.yaml; taxi_duration, without either, with its description alone."""
    base, _ = served
    config = load_config(REPO / "projects.yaml")
    credit, taxi = config.project("credit_scorecard"), config.project("taxi_duration")
    assert (credit.owner, taxi.owner, taxi.tags) == ("risk", None, {})
    described = {p["name"]: p["description"] for p in get(base + "/api/projects")}
    assert described["credit_scorecard"] == f"{credit.description} · owner: risk · tags: domain=lending, tier=critical"
    assert described["taxi_duration"] == taxi.description


def post(url: str, body: dict[str, Any]) -> Any:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status in (200, 201)
        return json.loads(response.read())


def test_the_dashboard_plots_the_estimated_quality(served: tuple[str, FilesWorkspace]) -> None:
    """credit_scorecard estimates its ROC AUC (evmon's EstimatedQuality): the UI, without evmon, serves it all."""
    base, ws = served
    pid = project_id("credit_scorecard")
    days = sorted(DEMO_END - timedelta(days=i) for i in range(DEMO_WORKSPACE_DAYS))
    stored: dict[tuple[str, date], float] = {}  # (value kind, day) -> the model-wide ROC AUC value in the file
    for day in days:
        for result in ws.read_snapshot(pid, daily_snapshot_id("credit_scorecard", day))["metric_results"].values():
            params = result["metric_value_location"]["metric"]["params"]
            model_wide_roc_auc = params.get("metric") == "roc_auc" and params.get("classification_name") == "default"
            if params["type"].endswith(":EstimatedQuality") and model_wide_roc_auc:
                stored[(params["value_kind"], day)] = result["value"]
    panels = {panel["title"]: panel for panel in get(f"{base}/api/v2/dashboards/{pid}")["panels"]}
    expected = {
        "Estimated ROC AUC (band) vs realized": ["estimate", "empirical_lower", "empirical_upper", "realized"],
        "Estimated ROC AUC: its record on labelled days": ["gap", "inside_empirical", "inside_band"],
    }
    for title, kinds in expected.items():
        values = panels[title]["values"]
        assert [v["metric_labels"]["value_kind"] for v in values] == kinds
        filters = [{k: v[k] for k in ("tags", "metadata", "metric", "metric_labels")} for v in values]
        answer = post(f"{base}/api/v2/snapshots/{pid}/data_series_batch", {"series_filter": filters})
        served_days = [date.fromisoformat(s["timestamp"][:10]) for s in answer["sources"]]
        by_kind = {kinds[s["filter_index"]]: s["values"] for s in answer["series"]}
        assert sorted(by_kind) == sorted(kinds)  # one series per value kind, no other
        for kind, series in by_kind.items():
            series = series + [None] * (len(served_days) - len(series))
            plotted = {day: value for day, value in zip(served_days, series, strict=True) if value is not None}
            assert plotted == {day: value for (k, day), value in stored.items() if k == kind}, kind
    # every day estimated; realized, gap and inside-band on the two labelled days only (3 days late)
    assert {day for kind, day in stored if kind == "estimate"} == set(days)
    assert {day for kind, day in stored if kind == "realized"} == set(days[:2])


def test_control_a_rename_inside_the_tree_is_not_seen(served: tuple[str, FilesWorkspace]) -> None:
    """Why evmon stages outside the workspace: Evidently's watcher ignores in-tree renames."""
    base, ws = served
    pid = project_id("taxi_duration")
    new_day = date(2026, 4, 2)
    final = ws.snapshot_path(pid, daily_snapshot_id("taxi_duration", new_day))
    tmp = final.parent / ".partial.tmp"
    tmp.write_bytes(restamped(ws, "taxi_duration", DEMO_END, new_day))
    tmp.rename(final)
    time.sleep(3)
    assert f"taxi_duration {new_day}" not in snapshot_names(base, pid)


# ---- writes closed --------------------------------------------------------------------------------


def request(url: str, method: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, headers=headers or {}), timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file of the workspace (evmon's own .evmon folder aside) with its size and mtime."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".evmon" not in path.relative_to(root).parts
    }


def test_a_secret_is_random_unless_configured() -> None:
    assert ui_secret({SECRET_ENV: "  from-env  "}) == "from-env"
    drawn = {ui_secret({}), ui_secret({SECRET_ENV: ""}), ui_secret({})}
    assert len(drawn) == 3 and all(len(s) >= 32 for s in drawn)


def test_started_without_a_secret_deletes_are_refused(served: tuple[str, FilesWorkspace]) -> None:
    """start_ui (what `evmon demo` uses) closes the write API with a random secret of its own."""
    base, ws = served
    pid, sid = project_id("taxi_duration"), daily_snapshot_id("taxi_duration", DEMO_END)
    before = tree(ws.root)
    assert request(f"{base}/api/projects/{pid}/{sid}", "DELETE") == (403, '{"detail":"Not enough permissions"}')
    assert request(f"{base}/api/projects/{pid}", "DELETE")[0] == 403
    assert tree(ws.root) == before
    assert len(get(f"{base}/api/projects/{pid}/snapshots")) == DEMO_WORKSPACE_DAYS


# ---- `evmon ui`, the command ------------------------------------------------------------------------

TAXI = "taxi_duration"
CORRUPT_DAY = DEMO_END
SECRET = "test-secret-4f1c9a7e2b"


@dataclass
class EvmonUi:
    """`evmon ui` running on a workspace copy: its URL, files and output so far."""

    base: str
    root: Path
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    before: dict[str, tuple[int, int]]  # the workspace right after the start (the quarantine done)

    def err(self) -> str:
        return self.stderr.read_text()


@pytest.fixture(scope="module")
def evmon_ui(demo_workspace: Path, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EvmonUi]:
    folder = tmp_path_factory.mktemp("evmon_ui")
    root = folder / "workspace"
    shutil.copytree(demo_workspace, root)
    FilesWorkspace(root).dashboard_path(project_id(TAXI)).unlink()  # as in a workspace copied without it
    bad = FilesWorkspace(root).snapshot_path(project_id(TAXI), daily_snapshot_id(TAXI, CORRUPT_DAY))
    bad.write_bytes(bad.read_bytes()[:5000])  # truncated, as by a full disk or a killed copy
    os.utime(bad, (time.time() - 600, time.time() - 600))
    port = free_port()
    env = {**os.environ, "EVMON_WORKSPACE": str(root), SECRET_ENV: SECRET, "DO_NOT_TRACK": "1"}
    stdout, stderr = folder / "stdout.txt", folder / "stderr.txt"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "evmon.cli", "ui", "-c", str(demo_dir / "projects.yaml"), "--port", str(port)],
            env=env,
            stdout=out,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/api/projects", process, timeout=240)
        yield EvmonUi(base, root, process, stdout, stderr, tree(root))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_evmon_ui_quarantines_a_truncated_snapshot_and_serves_every_project(evmon_ui: EvmonUi) -> None:
    original = FilesWorkspace(evmon_ui.root).snapshot_path(project_id(TAXI), daily_snapshot_id(TAXI, CORRUPT_DAY))
    warnings = [line for line in evmon_ui.err().splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Warning: moved unreadable snapshot {original} to ")
    assert warnings[0].endswith(": not valid JSON (Expecting ',' delimiter: line 1 column 5001; 5000 bytes)")
    assert not original.exists()

    projects = {p["name"]: p["id"] for p in get(evmon_ui.base + "/api/projects")}  # 200: get() asserts it
    assert set(projects) == {"credit_scorecard", TAXI, DEMO_LIVE}  # the live project: its dashboard, no day yet
    assert get(f"{evmon_ui.base}/api/projects/{projects[DEMO_LIVE]}/snapshots") == []
    assert len(get(f"{evmon_ui.base}/api/projects/{projects[TAXI]}/snapshots")) == DEMO_WORKSPACE_DAYS - 1
    assert len(get(f"{evmon_ui.base}/api/projects/{projects['credit_scorecard']}/snapshots")) == DEMO_WORKSPACE_DAYS

    [record_file] = (evmon_ui.root.parent / ".workspace.quarantine" / str(project_id(TAXI))).glob("*/record.json")
    record = json.loads(record_file.read_text())
    assert record["original_path"] == str(original) and record["found_by"] == "evmon ui"
    assert record["reason"].startswith("not valid JSON") and record["size"] == 5000
    assert Path(record["quarantine_path"]).stat().st_size == 5000


def test_evmon_ui_writes_each_projects_dashboard(evmon_ui: EvmonUi) -> None:
    dashboard = get(f"{evmon_ui.base}/api/v2/dashboards/{project_id(TAXI)}")
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert {"Share of drifted columns", "Missing values share", "R² (labelled days)"} <= set(titles)


def test_evmon_ui_keeps_the_uis_output(evmon_ui: EvmonUi) -> None:
    get(evmon_ui.base + "/api/projects")
    port = evmon_ui.base.rsplit(":", 1)[1]
    started = f"Uvicorn running on http://127.0.0.1:{port}"
    request_line = '"GET /api/projects HTTP/1.1" 200'
    log = evmon_ui.root / ".evmon" / "ui.log"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and request_line not in evmon_ui.err():
        time.sleep(0.2)  # the command copies the log to stderr a few times a second
    for text in (log.read_text(), evmon_ui.err()):
        assert started in text and request_line in text
    assert f"its log: {log}" in evmon_ui.stdout.read_text()


def test_evmon_ui_refuses_deletes(evmon_ui: EvmonUi) -> None:
    pid = project_id("credit_scorecard")
    sid = daily_snapshot_id("credit_scorecard", DEMO_END)
    assert request(f"{evmon_ui.base}/api/projects/{pid}/{sid}", "DELETE") == (
        403,
        '{"detail":"Not enough permissions"}',
    )
    assert request(f"{evmon_ui.base}/api/projects/{pid}", "DELETE")[0] == 403
    assert tree(evmon_ui.root) == evmon_ui.before
    assert len(get(f"{evmon_ui.base}/api/projects/{pid}/snapshots")) == DEMO_WORKSPACE_DAYS


def test_the_secret_comes_from_the_environment_and_is_never_shown(evmon_ui: EvmonUi) -> None:
    pid = project_id("credit_scorecard")
    guarded = f"{evmon_ui.base}/api/projects/{pid}/reload"  # a guarded route that changes nothing
    assert request(guarded, "GET")[0] == 403
    assert request(guarded, "GET", {"evidently-secret": SECRET})[0] == 200  # EVMON_UI_SECRET is the key
    command_lines = [
        (Path("/proc") / pid_dir / "cmdline").read_bytes()
        for pid_dir in os.listdir("/proc")
        if pid_dir.isdigit() and _descends_from(int(pid_dir), evmon_ui.process.pid)
    ]
    assert any(b"evidently" in line for line in command_lines)  # the UI itself is among them
    assert not any(SECRET.encode() in line for line in command_lines)
    outputs = [evmon_ui.stdout.read_text(), evmon_ui.err(), (evmon_ui.root / ".evmon" / "ui.log").read_text()]
    assert not any(SECRET in text for text in outputs)


def _descends_from(pid: int, ancestor: int) -> bool:
    """Whether `pid` is `ancestor` or one of its descendants (the UI runs in a session of its own)."""
    seen = 0
    while pid > 1 and seen < 10:
        if pid == ancestor:
            return True
        try:
            stat = (Path("/proc") / str(pid) / "stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        seen += 1
    return False


@needs_chromium
def test_with_writes_closed_chromium_shows_projects_a_dashboard_and_a_report(evmon_ui: EvmonUi) -> None:
    from playwright.sync_api import sync_playwright

    pid = project_id("credit_scorecard")
    sid = daily_snapshot_id("credit_scorecard", DEMO_END - timedelta(days=1))
    dashboard = json.loads((evmon_ui.root / str(pid) / "dashboard.json").read_text())
    panel_title = dashboard["panels"][0]["title"]
    refused: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            page.on("response", lambda r: refused.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(evmon_ui.base + "/")
            page.get_by_text("credit_scorecard").first.wait_for()
            page.get_by_text(TAXI).first.wait_for()
            page.goto(f"{evmon_ui.base}/projects/{pid}")
            page.get_by_text(panel_title).first.wait_for()
            page.goto(f"{evmon_ui.base}/projects/{pid}/reports/{sid}")
            page.get_by_text("Dataset Drift").first.wait_for()
            page.get_by_text("Drift is detected for").first.wait_for()
        finally:
            browser.close()
    assert refused == []
