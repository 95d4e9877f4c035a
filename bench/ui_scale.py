"""Benchmark: `evidently ui` on a year of daily snapshots for 10 projects, evmon vs default.

    .venv/bin/python bench/ui_scale.py --project-days 3650 [--projects 10] [--also 300,1000]
    .venv/bin/python bench/ui_scale.py --storage postgres --project-days 10950 [--dsn ...]

Builds two workspaces holding the same N project-days (re-stamped real demo snapshots,
with new ids and days, the same in both):
- default: every snapshot full, as Evidently writes them;
- evmon: as evmon keeps them: full for each project's last retention.full_days (7, the default) days,
  compacted (evmon.storage.compaction.compact_snapshot) before that. (The archived originals
  live outside the workspace and do not affect the UI; the bench does not write them.)
Then starts `evidently ui` on each (DO_NOT_TRACK=1) and prints: time to the first 200 on
/api/projects, time for one project's dashboard series (data_series_batch with the
dashboard's metrics), and the peak RSS, side by side with the ratios. A UI that passes
--limit-gb of RSS or --timeout seconds is stopped and reported as not started.
Goal: evmon's workspace at 3650 project-days starts in <= 30 s and stays under 3 GB.

--storage postgres compares evmon's file workspace (skip it with --no-files) with the UI's Postgres
storage (`ui: {storage: postgres}`, evmon.storage.postgres) at the same N: both compacted as evmon keeps
them (on Postgres an old day keeps its blob and only the points the dashboards plot). On the one
database it starts the UI twice: with Evidently's own storage (`type: sql`) and with evmon's
(evmon.evidently.fast_series, what `evmon ui` starts), and prints for each: the series time's p50/p95
over --repeats requests of every headline metric at once, each panel of the demo dashboard's own
request (p50/p95), the whole dashboard opened at once, and how long a /api/projects request made while
a series is computed waits; and evmon's write rate into the database (snapshots/s, one process).
Goals at 10,950 project-days: start <= 10 s, RSS <= 1 GB, series p95 <= 1 s, the other request
<= 0.5 s, writes >= 10 snapshots/s. The database: --dsn, EVMON_PG_DSN, 127.0.0.1:5432, or an
embedded server.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import evmon  # noqa: E402,F401
from bench._postgres import admin_dsn  # noqa: E402
from bench._ui_replicas import behind_nginx  # noqa: E402
from evmon.config.loader import load_config  # noqa: E402
from evmon.processes import free_port  # noqa: E402
from evmon.services.ui import evidently_command  # noqa: E402
from evmon.snapshot.compacted import HEADLINE_TYPES, compacted_snapshot  # noqa: E402
from evmon.snapshot.ids import daily_snapshot_id, project_id  # noqa: E402
from evmon.storage.files import FilesWorkspace  # noqa: E402
from tests.postgres import throwaway_database  # noqa: E402

FULL_DAYS = 7  # the default retention.full_days
OUT = REPO / "bench" / "out" / "ui_scale"


def templates() -> list[dict[str, Any]]:
    """Real full snapshots of both demo projects (computed once, cached in bench/out)."""
    from evmon.demo.data import CREDIT_LIVE, ensure_demo_data
    from evmon.run.batch import DayTask
    from evmon.run.many import run_many

    folder = OUT / "templates"
    end = date(2026, 3, 31)
    ws = FilesWorkspace(folder / "workspace")
    if not ws.root.exists():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "projects.yaml", folder / "projects.yaml")
        ensure_demo_data(folder / "demo_data", end=end)
        config = load_config(folder / "projects.yaml")
        generated = [p for p in config.projects if p.name != CREDIT_LIVE]  # the live one reads a service's rows
        tasks = [DayTask(p, end - timedelta(days=i)) for p in generated for i in range(2)]
        results = run_many(config, tasks, workspace=ws, workers=2, today=end + timedelta(days=1))
        assert all(r.outcome == "ok" for r in results), [r.line() for r in results]
    return [ws.read_snapshot(p.id, f.snapshot_id) for p in ws.list_projects() for f in ws.list_snapshots(p.id)]


def build(root: Path, n: int, projects: int, compact: bool, sources: list[dict[str, Any]]) -> float:
    """Write n project-days into root; returns the size on disk in MB."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(root.parent / f".{root.name}.staging", ignore_errors=True)
    return fill(FilesWorkspace(root), n, projects, compact, sources)[0]


def fill(
    ws: FilesWorkspace, n: int, projects: int, compact: bool, sources: list[dict[str, Any]], clone: bool = False
) -> tuple[float, float, int]:
    """Write n project-days into ws, compacted as evmon keeps them; (MB written, seconds in write_snapshot,
    snapshots written by evmon).

    On the UI's database a compacted day keeps its whole blob and only the points the dashboards plot
    (PostgresWorkspace.compact), as evmon's compaction leaves it there. With `clone` (database only),
    evmon writes model_00 alone and the other projects are copies of its rows made in SQL (new snapshot
    ids, the same points, each copy's blob_path naming model_00's blob): the series are read from the
    same tables at the same size, in minutes instead of an hour of writes on a loaded machine.
    """
    ws.prepare()
    in_db = not ws.stores_files
    writing = 0.0
    per_project = n // projects
    last = date(2026, 11, 26)
    size = 0
    written = 0
    for p in range(projects):
        name = f"model_{p:02d}"
        pid = ws.ensure_project(name, "bench")
        if clone and in_db and p > 0:
            copy_project(ws, project_id("model_00"), pid)
            continue
        template = sources[p % len(sources)]
        for i in range(per_project):
            day = last - timedelta(days=i)
            data = {
                **template,
                "name": f"{name} {day}",
                "timestamp": f"{day}T00:00:00",
                "metadata": {**template["metadata"], "project": name, "day": day.isoformat()},
            }
            if compact and i >= FULL_DAYS and not in_db:
                data = compacted_snapshot(data, HEADLINE_TYPES)
            payload = json.dumps(data).encode()
            sid = daily_snapshot_id(name, day)
            clock = time.perf_counter()
            ws.write_snapshot(pid, sid, payload)
            writing += time.perf_counter() - clock
            if compact and i >= FULL_DAYS and in_db:
                ws.compact(pid, sid, HEADLINE_TYPES)
            size += len(payload)
            written += 1
    return size / 1e6, writing, written


def copy_project(ws: Any, source: Any, target: Any) -> None:
    """The source project's snapshots and points under the target project, new snapshot ids (SQL only)."""
    from sqlalchemy import text

    with ws.db.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TEMP TABLE ids ON COMMIT DROP AS SELECT id AS old, gen_random_uuid() AS new "
                "FROM snapshots WHERE project_id = :s"
            ),
            {"s": source},
        )
        conn.execute(
            text(
                "INSERT INTO snapshots (id, project_id, name, timestamp, metadata_json, tags, blob_path, blob_size) "
                "SELECT ids.new, :t, s.name, s.timestamp, s.metadata_json, s.tags, s.blob_path, s.blob_size "
                "FROM snapshots s JOIN ids ON ids.old = s.id"
            ),
            {"t": target},
        )
        conn.execute(
            text(
                "INSERT INTO points (project_id, snapshot_id, metric_type, params, value) "
                "SELECT :t, ids.new, p.metric_type, p.params, p.value FROM points p JOIN ids ON ids.old = p.snapshot_id"
            ),
            {"t": target},
        )


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


HEADLINE_FILTERS = [
    {"tags": [], "metadata": {}, "metric": f"evidently:metric_v2:{t}", "metric_labels": {}}
    for t in sorted(HEADLINE_TYPES)
]


def series_request(
    base: str, pid: Any, timeout: float, filters: list[dict[str, Any]] | None = None
) -> tuple[float, int]:
    """One series request over all the project's days (by default every headline metric at once, more
    than any one panel asks): (seconds, days)."""
    filters = HEADLINE_FILTERS if filters is None else filters
    body = json.dumps({"series_filter": filters}).encode()
    request = urllib.request.Request(
        f"{base}/api/v2/snapshots/{pid}/data_series_batch", body, {"Content-Type": "application/json"}
    )
    clock = time.monotonic()
    with urllib.request.urlopen(request, timeout=timeout) as response:
        series = json.loads(response.read())
    return time.monotonic() - clock, len(series["sources"])


def while_series(base: str, pid: Any, timeout: float) -> float:
    """How long /api/projects takes when asked 0.1 s into a series request."""
    worker = threading.Thread(target=series_request, args=(base, pid, timeout))
    worker.start()
    time.sleep(0.1)
    clock = time.monotonic()
    with urllib.request.urlopen(base + "/api/projects", timeout=timeout) as response:
        response.read()
    waited = time.monotonic() - clock
    worker.join()
    return waited


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]  # nearest rank


def measure(
    where: list[str],
    limit_gb: float,
    timeout: float,
    repeats: int = 1,
    env_extra: dict[str, str] | None = None,
    panels: list[list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Start the UI (`where`: --workspace DIR or --conf-path FILE); time to first /api/projects,
    dashboard series times, a request's wait during a series, peak RSS; with `panels`, each panel's
    own request `repeats` times (p50/p95 over all of them) and a whole dashboard opened at once (every
    panel's request in parallel, as the browser sends them: the time to the last answer)."""
    port = free_port()
    env = {**os.environ, "DO_NOT_TRACK": "1", **(env_extra or {})}
    cmd = [*evidently_command(), "ui", *where, "--host", "127.0.0.1", "--port", str(port)]
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
            times = []
            for _ in range(repeats):
                seconds, result["points"] = series_request(base, pid, timeout)
                times.append(seconds)
                peak = max(peak, _rss_kb(proc.pid))
            result.update(series_s=quantile(times, 0.5), series_p95_s=quantile(times, 0.95))
            if repeats > 1:
                result["concurrent_s"] = max(while_series(base, pid, timeout) for _ in range(3))
            if panels:
                result.update(panel_times(base, pid, timeout, repeats, panels))
        peak = max(peak, _rss_kb(proc.pid))
        result["elapsed_s"] = time.monotonic() - started
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
    result["peak_rss_gb"] = peak / 1024 / 1024
    return result


def panel_times(
    base: str, pid: Any, timeout: float, repeats: int, panels: list[list[dict[str, Any]]]
) -> dict[str, float]:
    """Each panel's request `repeats` times (p50, p95 over all), and the whole dashboard at once."""
    times = [series_request(base, pid, timeout, filters)[0] for _ in range(repeats) for filters in panels]
    opened = []
    for _ in range(max(1, repeats // 2)):
        clock = time.monotonic()
        workers = [threading.Thread(target=series_request, args=(base, pid, timeout, f)) for f in panels]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        opened.append(time.monotonic() - clock)
    return {
        "panel_p50_s": quantile(times, 0.5),
        "panel_p95_s": quantile(times, 0.95),
        "dashboard_p50_s": quantile(opened, 0.5),
        "dashboard_max_s": max(opened),
    }


def show(label: str, r: dict[str, Any]) -> str:
    if not r["started"]:
        return f"{label:8s} did not start: stopped after {r['elapsed_s']:.0f}s at {r['peak_rss_gb']:.1f} GB RSS"
    series = f"dashboard series {r['series_s']:6.2f} s"
    if "series_p95_s" in r and "concurrent_s" in r:
        series += f" (p95 {r['series_p95_s']:.2f} s; /api/projects meanwhile {r['concurrent_s']:.2f} s)"
    rss = f"peak RSS {r['peak_rss_gb']:5.2f} GB"
    line = f"{label:8s} first 200 {r['first_200_s']:7.1f} s | {series} ({r['points']} days) | {rss}"
    if "panel_p95_s" in r:
        line += (
            f"\n{'':8s} each panel p50 {r['panel_p50_s']:.2f} s, p95 {r['panel_p95_s']:.2f} s | whole dashboard at "
            f"once p50 {r['dashboard_p50_s']:.2f} s, max {r['dashboard_max_s']:.2f} s"
        )
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project-days", type=int, default=3650)
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--also", default="", help="smaller N to measure too, e.g. 300,1000")
    parser.add_argument("--limit-gb", type=float, default=16.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--storage", choices=("files", "postgres"), default="files")
    parser.add_argument("--dsn", default=None, help="a Postgres server for --storage postgres (admin DSN)")
    parser.add_argument("--repeats", type=int, default=10, help="series requests per UI with --storage postgres")
    parser.add_argument("--replicas", type=int, default=1, help="UIs behind a local nginx with --storage postgres")
    parser.add_argument("--no-files", action="store_true", help="with --storage postgres: skip the file workspace")
    parser.add_argument("--clone", action="store_true", help="with --storage postgres: write model_00, copy the rest")
    args = parser.parse_args()
    sources = templates()
    sizes = sorted({int(x) for x in args.also.split(",") if x} | {args.project_days})
    if args.storage == "postgres":
        with admin_dsn(args.dsn, try_local=True) as admin:
            for n in sizes:
                files_vs_postgres(admin, n, args, sources)
        return
    for n in sizes:
        print(f"--- {n} project-days ({args.projects} projects x {n // args.projects} days)")
        rows = {}
        for label, compact in (("default", False), ("evmon", True)):
            root = OUT / f"ws_{label}"
            mb = build(root, n, args.projects, compact, sources)
            rows[label] = measure(["--workspace", str(root)], args.limit_gb, args.timeout)
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


def demo_panels(sources: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The series filters of each panel of the dashboard evmon writes for model_00's demo project."""
    from evmon.evidently.dashboard import build_dashboard, dashboard_bytes

    config = load_config(OUT / "templates" / "projects.yaml")
    template = FilesWorkspace(OUT / "templates" / "workspace")
    first = next(p.name for p in template.list_projects() for _ in template.list_snapshots(p.id))
    project = next(p for p in config.projects if p.name == first)
    panels = json.loads(dashboard_bytes(build_dashboard(project)))["panels"]
    keys = ("metric", "tags", "metadata", "metric_labels")
    return [[{k: v[k] for k in keys} for v in panel["values"]] for panel in panels if panel["values"]]


def files_vs_postgres(admin: str, n: int, args: argparse.Namespace, sources: list[dict[str, Any]]) -> None:
    from evmon.evidently.fast_series import ui_config
    from evmon.storage.postgres import PostgresWorkspace

    print(f"--- {n} project-days ({args.projects} projects x {n // args.projects} days), files vs postgres")
    files: dict[str, Any] = {"started": False}
    if not args.no_files:
        root = OUT / "ws_files"
        mb = build(root, n, args.projects, True, sources)
        files = measure(["--workspace", str(root)], args.limit_gb, args.timeout, args.repeats)
        shutil.rmtree(root, ignore_errors=True)
        print(f"{show('files', files)} | {mb:,.0f} MB on disk", flush=True)
    panels = demo_panels(sources)
    with throwaway_database(admin, "evmon_bench_ui_") as dsn, tempfile.TemporaryDirectory() as state:
        ws = PostgresWorkspace(Path(state) / "workspace", dsn)
        clock = time.monotonic()
        mb, writing, written = fill(ws, n, args.projects, True, sources, args.clone)
        total = time.monotonic() - clock
        with ws.db.engine.begin() as conn:
            from sqlalchemy import text

            conn.execute(text("ANALYZE"))
        rate = written / writing
        print(
            f"evmon's writes: {rate:.1f} snapshots/s ({written / total:.1f}/s with compaction), {mb:,.0f} MB written"
            + (f"; {n - written} project-days copied in SQL (--clone)" if written < n else "")
            + f"; points {ws.db.counts()['points']:,}"
        )
        where = ws.ui_arguments()  # --conf-path FILE naming evmon's storage component; the database made ready
        conf = Path(where[1])
        stock = conf.with_name("evidently-ui-stock.yaml")
        stock.write_text(ui_config(ws.db.url, fast=False))  # Evidently's own `type: sql`, same database
        print(f"the dashboard of model_00: {len(panels)} panels with series")
        rows = {}
        for label, path, env in (("evidently", stock, {}), ("evmon", conf, ws.ui_environment())):
            rows[label] = measure(["--conf-path", str(path)], args.limit_gb, args.timeout, args.repeats, env, panels)
            print(show(label, rows[label]), flush=True)
        pg = rows["evmon"]
        if args.replicas > 1 and rows["evidently"]["started"]:
            pid = project_id("model_00")
            lb = behind_nginx(
                stock,
                args.replicas,
                args.timeout,
                args.repeats,
                lambda base: series_request(base, pid, args.timeout)[0],
                lambda base: while_series(base, pid, args.timeout),
            )
            if lb is not None:
                print(
                    f"Evidently's path, {args.replicas} replicas behind nginx (least_conn): series p50 "
                    f"{lb['series_p50_s']:.2f} s; /api/projects while a series is computed {lb['concurrent_s']:.2f} s"
                )
        ws.db.close()
    e = rows["evidently"]
    if e["started"] and pg["started"]:
        print(
            f"ratios evidently/evmon on the same database: series p95 {e['series_p95_s'] / pg['series_p95_s']:.1f}x, "
            f"each panel p95 {e['panel_p95_s'] / pg['panel_p95_s']:.1f}x, whole dashboard "
            f"{e['dashboard_p50_s'] / pg['dashboard_p50_s']:.1f}x, other request "
            f"{e['concurrent_s'] / max(pg['concurrent_s'], 1e-3):.1f}x, "
            f"start {e['first_200_s'] / pg['first_200_s']:.2f}x"
        )
    if files["started"] and pg["started"]:
        print(
            f"ratios files/evmon's postgres: start {files['first_200_s'] / pg['first_200_s']:.1f}x, "
            f"series p95 {files['series_p95_s'] / pg['series_p95_s']:.2f}x, "
            f"RSS {files['peak_rss_gb'] / pg['peak_rss_gb']:.1f}x"
        )
    if pg["started"]:
        goals = {
            "start <= 10 s": pg["first_200_s"] <= 10,
            "RSS <= 1 GB": pg["peak_rss_gb"] <= 1,
            "series p95 <= 1 s": pg["series_p95_s"] <= 1 and pg["panel_p95_s"] <= 1,
            "other request <= 0.5 s": pg["concurrent_s"] <= 0.5,
            "writes >= 10/s": rate >= 10,
        }
        print(
            "goals (evmon's path, one UI): " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in goals.items())
        )


if __name__ == "__main__":
    main()
