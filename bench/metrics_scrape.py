"""Benchmark of /metrics: `python bench/metrics_scrape.py [--projects 100] [--days 365] [--runs 50] [--dsn DSN]`.

What Prometheus pays for a scrape over HTTP (p50 and p95 of --runs scrapes after one warm-up), for:
1. `evmon scheduler`'s registry with --projects projects configured (copies of the two demo projects),
   each with --days days in the run log (one run a day, every 37th failed) and --days snapshot files in
   its workspace folder (placeholders: a scrape reads no snapshot; the due-days planner lists them).
   Also: the first scrape (it reads the whole run log), the first scrape after one more run per project
   (it reads only those), and one full re-plan of every project's due days (the planner's background
   work, not a scrape's).
2. `evmon bridge`'s registry on --projects projects x --days days of bridged data (the real rows of six
   real project-days, copied as bench/grafana_queries.py does, with its cached real snapshots), with the
   same workspace folders: in step (the steady state: a sync left nothing pending since the folders
   last changed), and the worst case: every project's folder changed since the last sync, so each is
   listed and compared with Postgres.
Baseline, in the same process: the same HTTP scrape of a registry with only the process metrics and
evmon_build_info. Goal: p95 under 50 ms with 100 projects.
Postgres: --dsn (admin), else EVMON_PG_DSN, else 127.0.0.1:5432 if it answers, else an embedded one.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
import yaml
from prometheus_client import CollectorRegistry

import evmon  # noqa: F401  (DO_NOT_TRACK before Evidently)
from bench._postgres import admin_dsn
from bench.grafana_queries import CREDIT, TAXI, fill, real_workspace
from evmon.bridge.metrics import _NEWEST as NEWEST_VALUES
from evmon.bridge.metrics import BridgeStateCollector, SyncCounters
from evmon.bridge.sync import Bridge
from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.processes import free_port
from evmon.scheduler.metrics import scheduler_registry
from evmon.scheduler.service import SchedulerService, fixed_clock
from evmon.services.exporter import MetricsAddress, MetricsServer, new_registry
from evmon.snapshot.ids import daily_snapshot_id
from evmon.storage.files import FilesWorkspace
from evmon.storage.runlog import RunLog
from tests.postgres import throwaway_database

REPO = Path(__file__).resolve().parents[1]
GOAL_MS = 50.0


def scrape_ms(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read()
    return (time.perf_counter() - started) * 1000, len(body)


def timed(registry: CollectorRegistry, runs: int) -> tuple[list[float], int]:
    """Milliseconds of `runs` HTTP scrapes of `registry` (after one warm-up), and the answer's size."""
    with MetricsServer(registry, MetricsAddress("127.0.0.1", free_port())) as server:
        _, size = scrape_ms(server.address.url)
        return sorted(scrape_ms(server.address.url)[0] for _ in range(runs)), size


def p(times: list[float], q: float) -> float:
    return times[min(len(times) - 1, round(q * (len(times) - 1)))]


def line(what: str, times: list[float], size: int, baseline: float) -> str:
    verdict = "ok" if p(times, 0.95) < GOAL_MS else f"OVER {GOAL_MS:.0f} ms"
    return (
        f"{what}: p50 {p(times, 0.5):.1f} ms, p95 {p(times, 0.95):.1f} ms ({size / 1024:.0f} KiB; "
        f"{p(times, 0.5) / baseline:.1f}x the baseline's p50) {verdict}"
    )


def project_names(n: int) -> list[str]:
    return [f"{base}_{i:03d}" for i in range((n + 1) // 2) for base in (CREDIT, TAXI)][:n]


def write_config(folder: Path, names: list[str]) -> Path:
    """projects.yaml with the projects as copies of the demo projects of their name."""
    raw = yaml.safe_load((REPO / "projects.yaml").read_text())
    demo = {p["name"]: p for p in raw["projects"]}
    raw["projects"] = [{**demo[name.rsplit("_", 1)[0]], "name": name} for name in names]
    raw["workspace"] = str(folder / "workspace")
    path = folder / "projects.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def fill_workspace(workspace: FilesWorkspace, names: list[str], days: list[date]) -> None:
    """Each project's folder with a placeholder file per day, and one logged run per project-day."""
    workspace.prepare()
    rows = []
    for name in names:
        folder = workspace.project_dir(workspace.ensure_project(name)) / "snapshots"
        folder.mkdir(parents=True, exist_ok=True)
        for n, day in enumerate(days):
            (folder / f"{daily_snapshot_id(name, day)}.json").write_bytes(b"{}")
            status = "failed" if n % 37 == 5 else "ok"
            started = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(hours=2)
            rows.append(log_row(name, day, status, started, 2.0 + n % 7, 10_000 + n))
    append_runs(workspace, rows)


def log_row(name: str, day: date, status: str, started: datetime, duration: float, rows: int) -> tuple[object, ...]:
    ok = status == "ok"
    return (str(uuid.uuid4()), name, day.isoformat(), "daily", "scheduler", status, started.isoformat(), duration,
            rows if ok else None, 1 if ok else None, None, None, None, None if ok else "boom", None)  # fmt: skip


def append_runs(workspace: FilesWorkspace, rows: list[tuple[object, ...]]) -> None:
    """Many runs in one transaction (RunLog.append opens the file once per run: a bench of 36k runs would wait)."""
    run_log = RunLog(workspace.evmon_dir)
    run_log.ensure()
    with sqlite3.connect(run_log.path) as conn:
        conn.executemany(f"INSERT INTO runs VALUES ({', '.join('?' * 15)})", rows)


def bench_scheduler(
    config_path: Path, workspace: FilesWorkspace, names: list[str], end: date, runs: int, base: float
) -> None:
    service = SchedulerService(
        config_path, workspace=workspace, now=fixed_clock(end + timedelta(days=1)), dashboards=False
    )
    registry, due = scheduler_registry(service)
    with MetricsServer(registry, MetricsAddress("127.0.0.1", free_port())) as server:
        first, _ = scrape_ms(server.address.url)
        print(f"scheduler, the first scrape (reads the whole run log, {len(names) * 365} runs): {first:.1f} ms")
        started = time.perf_counter()
        planned = due.refresh()
        print(
            f"due-days planner, every project (in the background, on start and for each changed project): "
            f"{planned} in {time.perf_counter() - started:.2f} s"
        )
        started_at = datetime.now(UTC)
        append_runs(workspace, [log_row(name, end, "ok", started_at, 3.0, 10_000) for name in names])
        after, _ = scrape_ms(server.address.url)
        print(f"scheduler, the scrape after one more run per project (reads those {len(names)}): {after:.1f} ms")
    times, size = timed(registry, runs)
    print(line(f"scheduler, {len(names)} projects", times, size, base))


def bench_bridge(
    config: EvmonConfig,
    workspace: FilesWorkspace,
    names: list[str],
    days: int,
    end: date,
    runs: int,
    base: float,
    dsn_arg: str | None,
) -> None:
    real, roles = real_workspace()
    with admin_dsn(dsn_arg, try_local=True) as admin, throwaway_database(admin, "evmon_bench_") as dsn:
        bridge = Bridge(real, dsn, settle_s=0.0)
        bridge.sync_once()
        bridge.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            started = time.perf_counter()
            written = fill(conn, names, days, end, roles)
            print(
                f"bridged {len(names)} projects x {days} days ({written} metric values) in "
                f"{time.perf_counter() - started:.0f} s"
            )
            queries = []
            for _ in range(runs):
                started = time.perf_counter()
                conn.execute(NEWEST_VALUES).fetchall()
                queries.append((time.perf_counter() - started) * 1000)
            queries.sort()
            print(f"bridge, the newest values of every project (one query): p50 {p(queries, 0.5):.1f} ms")
        cases = (("in step", time.time_ns), ("every folder changed since the last sync: all listed", lambda: 0))
        for what, in_step in cases:
            registry = new_registry("bridge")
            SyncCounters(registry)
            state = BridgeStateCollector(config, workspace, dsn, in_step)
            registry.register(state)
            times, size = timed(registry, runs)
            state.close()
            print(line(f"bridge, {len(names)} projects, {what}", times, size, base))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=50, help="timed scrapes of each registry")
    parser.add_argument("--dsn", default=None, help="admin DSN of a Postgres (default: see above)")
    parser.add_argument("--no-bridge", action="store_true", help="the scheduler's registry only (no Postgres)")
    args = parser.parse_args()
    names = project_names(args.projects)
    end = datetime.now(UTC).date() - timedelta(days=1)
    days = [end - timedelta(days=i) for i in range(args.days)][::-1]
    baseline, _ = timed(new_registry("scheduler"), args.runs)
    base = p(baseline, 0.5)
    print(f"baseline, a registry with the process metrics only: p50 {base:.2f} ms, p95 {p(baseline, 0.95):.2f} ms")
    with tempfile.TemporaryDirectory(prefix="evmon-bench-metrics-") as tmp:
        folder = Path(tmp)
        config_path = write_config(folder, names)
        workspace = FilesWorkspace(folder / "workspace")
        started = time.perf_counter()
        fill_workspace(workspace, names, days)
        print(
            f"workspace: {len(names)} projects x {len(days)} days, files and runs, in "
            f"{time.perf_counter() - started:.0f} s"
        )
        bench_scheduler(config_path, workspace, names, end, args.runs, base)
        if not args.no_bridge:
            bench_bridge(load_config(config_path), workspace, names, args.days, end, args.runs, base, args.dsn)


if __name__ == "__main__":
    main()
