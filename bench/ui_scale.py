"""Benchmark: `evidently ui` on a year of daily snapshots for 10 projects, evmon vs default.

    .venv/bin/python bench/ui_scale.py --project-days 3650 [--projects 10] [--also 300,1000]

Builds two workspaces holding the same N project-days (re-stamped real demo snapshots,
with new ids and days, the same in both):
- default: every snapshot full, as Evidently writes them;
- evmon: as evmon keeps them: full for each project's last retention.full_days (7, the default) days,
  compacted (evmon.compaction.compact_snapshot) before that. (The archived originals
  live outside the workspace and do not affect the UI; the bench does not write them.)
Then starts `evidently ui` on each (DO_NOT_TRACK=1) and prints: time to the first 200 on
/api/projects, time for one project's dashboard series (data_series_batch with the
dashboard's metrics), and the peak RSS, side by side with the ratios. A UI that passes
--limit-gb of RSS or --timeout seconds is stopped and reported as not started.
Goal: evmon's workspace at 3650 project-days starts in <= 30 s and stays under 3 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import evmon  # noqa: E402,F401
from evmon.compaction import HEADLINE_TYPES, compact_snapshot  # noqa: E402
from evmon.config_loader import load_config  # noqa: E402
from evmon.services import free_port  # noqa: E402
from evmon.ui_server import evidently_command  # noqa: E402
from evmon.workspace import Workspace, daily_snapshot_id, project_id  # noqa: E402

FULL_DAYS = 7  # the default retention.full_days
OUT = REPO / "bench" / "out" / "ui_scale"


def templates() -> list[dict[str, Any]]:
    """Real full snapshots of both demo projects (computed once, cached in bench/out)."""
    from evmon.backfill import DayTask, run_many
    from evmon.demo_data import ensure_demo_data

    folder = OUT / "templates"
    end = date(2026, 3, 31)
    ws = Workspace(folder / "workspace")
    if not ws.root.exists():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "projects.yaml", folder / "projects.yaml")
        ensure_demo_data(folder / "demo_data", end=end)
        config = load_config(folder / "projects.yaml")
        tasks = [DayTask(p, end - timedelta(days=i)) for p in config.projects for i in range(2)]
        results = run_many(config, tasks, workspace=ws, workers=2, today=end + timedelta(days=1))
        assert all(r.outcome == "ok" for r in results), [r.line() for r in results]
    return [ws.read_snapshot(p.id, f.snapshot_id) for p in ws.list_projects() for f in ws.list_snapshots(p.id)]


def build(root: Path, n: int, projects: int, compact: bool, sources: list[dict[str, Any]]) -> float:
    """Write n project-days into root; returns the size on disk in MB."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(root.parent / f".{root.name}.staging", ignore_errors=True)
    ws = Workspace(root)
    ws.prepare()
    per_project = n // projects
    last = date(2026, 11, 26)
    size = 0
    for p in range(projects):
        name = f"model_{p:02d}"
        pid = ws.ensure_project(name, "bench")
        template = sources[p % len(sources)]
        for i in range(per_project):
            day = last - timedelta(days=i)
            data = {
                **template,
                "name": f"{name} {day}",
                "timestamp": f"{day}T00:00:00",
                "metadata": {**template["metadata"], "project": name, "day": day.isoformat()},
            }
            if compact and i >= FULL_DAYS:
                data = compact_snapshot(data, HEADLINE_TYPES)
            payload = json.dumps(data).encode()
            ws.write_snapshot(pid, daily_snapshot_id(name, day), payload)
            size += len(payload)
    return size / 1e6


def _rss_kb(pid: int) -> int:
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def measure(root: Path, limit_gb: float, timeout: float) -> dict[str, Any]:
    """Start the UI on root; time to first /api/projects, dashboard series time, peak RSS."""
    port = free_port()
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    cmd = [*evidently_command(), "ui", "--workspace", str(root), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    started, peak = time.monotonic(), 0
    result: dict[str, Any] = {"started": False}
    try:
        while time.monotonic() - started < timeout:
            peak = max(peak, _rss_kb(proc.pid))
            if peak > limit_gb * 1024 * 1024 or proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(base + "/api/projects", timeout=2) as response:
                    if response.status == 200:
                        projects = json.loads(response.read())
                        result.update(started=True, first_200_s=time.monotonic() - started)
                        break
            except OSError:
                time.sleep(0.25)
        if result["started"]:
            pid = project_id(projects[0]["name"])
            filters = [
                {"tags": [], "metadata": {}, "metric": f"evidently:metric_v2:{t}", "metric_labels": {}}
                for t in sorted(HEADLINE_TYPES)
            ]
            body = json.dumps({"series_filter": filters}).encode()
            request = urllib.request.Request(
                f"{base}/api/v2/snapshots/{pid}/data_series_batch", body, {"Content-Type": "application/json"}
            )
            clock = time.monotonic()
            with urllib.request.urlopen(request, timeout=timeout) as response:
                series = json.loads(response.read())
            result["series_s"] = time.monotonic() - clock
            result["points"] = len(series["sources"])
        peak = max(peak, _rss_kb(proc.pid))
        result["elapsed_s"] = time.monotonic() - started
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
    result["peak_rss_gb"] = peak / 1024 / 1024
    return result


def show(label: str, r: dict[str, Any]) -> str:
    if not r["started"]:
        return f"{label:8s} did not start: stopped after {r['elapsed_s']:.0f}s at {r['peak_rss_gb']:.1f} GB RSS"
    return (
        f"{label:8s} first 200 {r['first_200_s']:7.1f} s | dashboard series {r['series_s']:6.2f} s "
        f"({r['points']} days) | peak RSS {r['peak_rss_gb']:5.2f} GB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project-days", type=int, default=3650)
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--also", default="", help="smaller N to measure too, e.g. 300,1000")
    parser.add_argument("--limit-gb", type=float, default=16.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    sources = templates()
    sizes = sorted({int(x) for x in args.also.split(",") if x} | {args.project_days})
    for n in sizes:
        print(f"--- {n} project-days ({args.projects} projects x {n // args.projects} days)")
        rows = {}
        for label, compact in (("default", False), ("evmon", True)):
            root = OUT / f"ws_{label}"
            mb = build(root, n, args.projects, compact, sources)
            rows[label] = measure(root, args.limit_gb, args.timeout)
            print(f"{show(label, rows[label])} | {mb:,.0f} MB on disk", flush=True)
        d, e = rows["default"], rows["evmon"]
        if d["started"] and e["started"]:
            print(
                f"ratios default/evmon: start {d['first_200_s'] / e['first_200_s']:.1f}x, "
                f"series {d['series_s'] / e['series_s']:.1f}x, RSS {d['peak_rss_gb'] / e['peak_rss_gb']:.1f}x"
            )
        if e["started"]:
            ok = e["first_200_s"] <= 30 and e["peak_rss_gb"] < 3
            print(f"goal (evmon <= 30 s and < 3 GB): {'met' if ok else 'NOT met'}")
        for label in ("default", "evmon"):
            shutil.rmtree(OUT / f"ws_{label}", ignore_errors=True)


if __name__ == "__main__":
    main()
