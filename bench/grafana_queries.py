"""Benchmark of the provisioned Grafana queries: `python bench/grafana_queries.py [--runs 20] [--dsn DSN]`.

1. Real snapshots: the demo data and six real project-days (credit_scorecard: a clean labelled day,
   a feature-shift day, the missing-values spike, a concept-drift day, an unlabelled last day;
   taxi_duration: one day), computed once with the real runner (cached in bench/out/grafana/) and
   synced into a fresh database by the real bridge.
2. The bridge's tables filled for --projects projects x --days days ending yesterday (5 copies of
   each demo project by default), by bulk COPY of those real rows with shifted days, projects and
   ids: projects, snapshots, metric_values, one run per project-day (a few failed or skipped).
3. Every panel, variable and alert query of grafana/ expanded as Grafana does (tests/grafana/
   provisioned.py, tests/grafana/grafana_sql.py), "All" projects selected, run AS the Grafana role over
   each of --ranges (default 30, 365 and 1095 days; past 92 days the panels read the bridge's weekly
   rollups, rebuilt here after the bulk load): p50 and p95 over --runs runs; then (unless
   --runs-without-indexes 0) the same inside a transaction that drops the bridge's indexes (rolled back).
   The goal: every query's p95 under 50 ms for 10 projects x 3 years: `--days 1095`.
Postgres: --dsn (admin), else EVMON_PG_DSN, else an embedded one with evmon's settings (bridge/embedded.py:
shared_buffers 512MB, as docker-compose.yml). The data is checkpointed before timing, as a dashboard
reads days written long before. The machine's own jitter is printed first: the p50 and p95 of a fixed
CPU-bound query, the baseline the p95s above it are to be read against.

`--rows-digest OUT` times nothing: on the same filled bridge it runs every panel and variable query of
the dashboards (grafana/dashboards, and with `--rows-base REV` also those committed at REV) over each
range, all in one read-only transaction as the Grafana role (so now() and the data are the same for
every query), and writes a line per dashboards, range and query to OUT: its row count and a digest of
its rows in order. With --rows-base it then compares the two and exits 1 if any query's rows differ:
the check that a change to the generator (grafana/*.py) left every panel's results as they were.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from psycopg import sql

import evmon  # noqa: F401  (DO_NOT_TRACK before Evidently)
from bench._postgres import admin_dsn
from evmon.bridge import rollups
from evmon.bridge.settings import GrafanaRole
from evmon.bridge.sync import Bridge
from evmon.snapshot.ids import NAMESPACE, project_id
from evmon.storage.files import FilesWorkspace
from tests.grafana.grafana_sql import TimeRange, day_start, expand
from tests.grafana.provisioned import (
    REPO,
    Query,
    alert_queries,
    alert_range,
    is_prometheus,
    load_dashboards,
    panel_queries,
    resolve_variables,
    variable_queries,
)
from tests.postgres import throwaway_database

OUT = Path(__file__).resolve().parent / "out" / "grafana"
CREDIT, TAXI = "credit_scorecard", "taxi_duration"
DEMO_END = date(2026, 3, 31)
GOAL_MS = 50.0
JITTER_SQL = "SELECT sum(i::bigint * i) FROM generate_series(1, 200000) AS i"
VALUE_COLS = (
    'snapshot_id, project, kind, "timestamp", metric_id, metric_type, display_name, "column", label, value_kind, '
    "value, params, drift_detected, segment"
)
SNAPSHOT_COLS = (
    'snapshot_id, project_id, project, kind, name, "timestamp", day, rows, labels, config_hash, tags, metadata, '
    "n_values, n_tests, file_path, file_size, file_mtime_ns, ingested_at"
)
RUN_COLS = "run_id, project, day, kind, trigger, status, started_at, duration_s, rows, labels_included, snapshot_id"


def real_workspace() -> tuple[FilesWorkspace, dict[str, date]]:
    """The demo's real snapshots, by role: clean, shift, missing, concept, unlabelled, taxi."""
    from evmon.config.loader import load_config
    from evmon.demo.data import ensure_demo_data
    from evmon.run.batch import DayTask
    from evmon.run.many import run_many

    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).resolve().parents[1] / "projects.yaml", OUT / "projects.yaml")
    episodes = ensure_demo_data(OUT / "demo_data", end=DEMO_END)
    roles = {
        "clean": episodes.clean[0],
        "shift": episodes.feature_shift[1],
        "missing": episodes.missing_spike,
        "concept": episodes.concept_drift[2],
        "unlabelled": DEMO_END,
        "taxi": DEMO_END,
    }
    config = load_config(OUT / "projects.yaml")
    workspace = FilesWorkspace(OUT / "workspace")
    tasks = [DayTask(config.project(TAXI if r == "taxi" else CREDIT), d) for r, d in roles.items()]
    started = time.perf_counter()
    results = run_many(config, tasks, workspace=workspace, workers=2, today=DEMO_END + timedelta(days=1))
    if any(r.failed for r in results):
        raise SystemExit("; ".join(r.line() for r in results if r.failed))
    computed = sum(r.outcome == "ok" for r in results)
    print(f"real snapshots: {len(results)} ({computed} computed in {time.perf_counter() - started:.0f}s)")
    return workspace, roles


def source_role(project: str, index: int, days_to_end: int) -> str:
    """Which real snapshot a generated day copies: a month-long cycle of the demo's episodes."""
    if project.startswith(TAXI):
        return "taxi"
    if days_to_end < 3:
        return "unlabelled"  # inside the 3-day label lag
    phase = index % 30
    episodes = {16: "shift", 17: "shift", 18: "shift", 21: "missing", 23: "concept", 24: "concept", 25: "concept"}
    return episodes.get(phase, "clean")


def fill(conn: psycopg.Connection, projects: list[str], days: int, end: date, roles: dict[str, date]) -> int:
    """COPY the real rows as `projects` x `days`; returns the number of metric values written."""
    sources: dict[str, tuple[tuple[Any, ...], list[tuple[Any, ...]]]] = {}
    for role, day in roles.items():
        base = TAXI if role == "taxi" else CREDIT
        snap = conn.execute(
            f"SELECT {SNAPSHOT_COLS} FROM evmon.snapshots WHERE project = %s AND day = %s", (base, day)
        ).fetchone()
        assert snap is not None, (role, day)
        values = conn.execute(
            f"SELECT {VALUE_COLS.replace('params', 'params::text')} FROM evmon.metric_values WHERE snapshot_id = %s",
            (snap[0],),
        ).fetchall()
        sources[role] = (snap, values)
    durations = [r[0] for r in conn.execute("SELECT duration_s FROM evmon.runs WHERE status = 'ok'")] or [3.0]
    conn.execute("TRUNCATE evmon.projects, evmon.snapshots, evmon.metric_values, evmon.test_results, evmon.runs")
    plan = []
    for name in projects:
        for index in range(days):
            day = end - timedelta(days=days - 1 - index)
            sid = uuid.uuid5(NAMESPACE, f"bench:{name}:{day}")
            plan.append((name, day, sid, source_role(name, index, (end - day).days)))
    written = 0
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy("COPY evmon.projects (project_id, name, description) FROM STDIN") as copy:
            for name in projects:
                copy.write_row((project_id(name), name, f"bench copy of {name.rsplit('_', 1)[0]}"))
        with cur.copy(f"COPY evmon.snapshots ({SNAPSHOT_COLS}) FROM STDIN") as copy:
            for name, day, sid, role in plan:
                s = sources[role][0]
                written_at = day_start(day) + timedelta(days=1, hours=2, minutes=5)
                metadata = psycopg.types.json.Jsonb({**s[11], "day": day.isoformat(), "project": name})
                copy.write_row(
                    (sid, project_id(name), name, "daily", f"{name} {day}", day_start(day), day, *s[7:11], metadata,
                     *s[12:14], f"/bench/{name}/{sid}.json", s[15], int(written_at.timestamp() * 1e9),
                     written_at + timedelta(seconds=3))
                )  # fmt: skip
        with cur.copy(f"COPY evmon.metric_values ({VALUE_COLS}) FROM STDIN") as copy:
            for name, day, sid, role in plan:
                for v in sources[role][1]:
                    copy.write_row((sid, name, "daily", day_start(day), *v[4:]))
                    written += 1
        with cur.copy(f"COPY evmon.runs ({RUN_COLS}) FROM STDIN") as copy:
            for n, (name, day, sid, role) in enumerate(plan):
                status = "failed" if n % 37 == 5 else "skipped" if n % 53 == 7 else "ok"
                started = day_start(day) + timedelta(days=1, hours=2, seconds=n % 60)
                rows = sources[role][0][7] if status == "ok" else 0 if status == "skipped" else None
                copy.write_row(
                    (str(uuid.uuid5(NAMESPACE, f"run:{sid}")), name, day, "daily", "schedule", status, started,
                     durations[n % len(durations)], rows, role != "unlabelled", str(sid) if status == "ok" else None)
                )  # fmt: skip
    conn.execute("VACUUM ANALYZE")
    try:
        conn.execute("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        print("(not checkpointed: the --dsn role may not CHECKPOINT; the first reads write dirty pages)")
    return written


def bench_queries(conn: psycopg.Connection, queries: list[tuple[str, str]], runs: int) -> dict[str, list[float]]:
    """Milliseconds of each (name, sql) over `runs` runs (after one warm-up), in the current transaction."""
    out: dict[str, list[float]] = {}
    for name, text in queries:
        conn.execute(text.encode()).fetchall()
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            conn.execute(text.encode()).fetchall()
            times.append((time.perf_counter() - started) * 1000)
        out[name] = times
    return out


def p(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def expanded(conn: psycopg.Connection, now: datetime, ranges: list[int]) -> dict[str, list[tuple[str, str]]]:
    """Every query's SQL per range label ("30d"), variables resolved on `conn` ("All" selected)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for days in ranges:
        label = f"{days}d"
        time_range = TimeRange.last(timedelta(days=days), now)
        items = []
        for dash in load_dashboards():
            variables = resolve_variables(conn, dash, time_range)
            queries: list[Query] = [*variable_queries(dash), *panel_queries(dash)]
            for q in queries:
                what = q.title if q.kind == "panel" else q.where.split(" / ")[-1]
                name = f"{dash['uid'].removeprefix('evmon-')} / {what}"
                items.append((name, expand(q.sql, variables, time_range, q.interval(time_range))))
        for q in alert_queries():
            items.append((f"alert / {q.rule['uid']}", expand(q.sql, {}, alert_range(q.rule, "A", now))))
        out[label] = items
    return out


def committed_dashboards(rev: str) -> list[dict[str, Any]]:
    """The SQL dashboards of grafana/dashboards as committed at `rev`."""
    git = ["git", "-C", str(REPO)]
    names = subprocess.run([*git, "ls-tree", "--name-only", rev, "grafana/dashboards/"], capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    loaded = [json.loads(subprocess.run([*git, "show", f"{rev}:{n}"], capture_output=True, check=True).stdout)
              for n in sorted(names) if n.endswith(".json")]  # fmt: skip
    return [d for d in loaded if not is_prometheus(d)]


def rows_digest(grafana: str, sources: dict[str, list[dict[str, Any]]], ranges: list[int], out: Path) -> int:
    """Each source's panel and variable queries over each range, in one transaction: a line per query to `out`
    (source, range, query, rows, digest); with two sources, 1 if any query's rows differ between them."""
    digests: dict[str, dict[tuple[str, str], str]] = {}
    lines = []
    with psycopg.connect(grafana) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        now = datetime.now(UTC)
        for source, dashboards in sources.items():
            digests[source] = {}
            for days in ranges:
                time_range = TimeRange.last(timedelta(days=days), now)
                for dash in dashboards:
                    variables = resolve_variables(conn, dash, time_range)
                    for q in [*variable_queries(dash), *panel_queries(dash)]:
                        text = expand(q.sql, variables, time_range, q.interval(time_range))
                        rows = conn.execute(text.encode()).fetchall()
                        digest = hashlib.sha256(repr(rows).encode()).hexdigest()[:20]
                        digests[source][(f"{days}d", q.where)] = f"{len(rows)} rows {digest}"
                        lines.append(f"{source}\t{days}d\t{q.where}\t{len(rows)} rows\t{digest}")
        conn.rollback()
    out.write_text("\n".join(lines) + "\n")
    print(f"{len(lines)} digests written to {out}")
    if len(digests) < 2:
        return 0
    (first, a), (second, b) = list(digests.items())[:2]
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    for label, where in differ:
        print(f"DIFFERS {label} {where}: {first}: {a.get((label, where))}; {second}: {b.get((label, where))}")
    empty = sum(1 for v in a.values() if v.startswith("0 rows"))
    print(f"{len(a)} queries x ranges of {first} against {second}: {len(a) - len(differ)} identical, "
          f"{len(differ)} differ; {empty} of the {len(a)} return no rows")  # fmt: skip
    return 1 if differ else 0


def secondary_indexes(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        """SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'evmon' AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"""
    ).fetchall()
    return sorted(r[0] for r in rows)


def measure(
    dsn: str, role: GrafanaRole, sqls: dict[str, list[tuple[str, str]]], runs: int, drop: list[str], create: str = ""
) -> Any:
    """Timings per range, as the Grafana role, in a transaction rolled back: `drop` indexes dropped, `create` run."""
    with psycopg.connect(dsn) as conn:
        for index in drop:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(index)))
        if create:
            conn.execute(create.encode())
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role.name)))
        result = {label: bench_queries(conn, items, runs) for label, items in sqls.items()}
        conn.rollback()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=None, help="admin DSN of a Postgres (default: see above)")
    parser.add_argument("--projects", type=int, default=10, help="projects (half of each demo project)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=20, help="timed runs per query and range, with indexes")
    parser.add_argument("--runs-without-indexes", type=int, default=5, help="0: skip the run without indexes")
    parser.add_argument("--ranges", default="30,365,1095", help="dashboard time ranges in days, comma-separated")
    parser.add_argument("--rows-digest", type=Path, help="write each query's rows digest here instead of timing")
    parser.add_argument("--rows-base", metavar="REV", help="with --rows-digest: compare with the dashboards at REV")
    args = parser.parse_args()
    workspace, roles = real_workspace()
    role = GrafanaRole(f"evmon_bench_grafana_{uuid.uuid4().hex[:6]}", uuid.uuid4().hex)
    names = [f"{base}_{i:02d}" for i in range((args.projects + 1) // 2) for base in (CREDIT, TAXI)][: args.projects]
    end = datetime.now(UTC).date() - timedelta(days=1)
    with admin_dsn(args.dsn, try_local=False) as admin, throwaway_database(admin, "evmon_bench_", role.name) as dsn:
        bridge = Bridge(workspace, dsn, settle_s=0.0, role=role)
        print(bridge.sync_once().line())
        bridge.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            started = time.perf_counter()
            written = fill(conn, names, args.days, end, roles)
            rolled = time.perf_counter()
            rollups.rebuild(conn)  # the bulk load bypassed the bridge's writes, which keep them
            conn.execute("VACUUM ANALYZE evmon.metric_rollups")
            rollup_rows = conn.execute("SELECT count(*) FROM evmon.metric_rollups").fetchone()
            print(
                f"rollups rebuilt: {rollup_rows[0] if rollup_rows else '?'} weekly and monthly rows "
                f"in {time.perf_counter() - rolled:.1f}s"
            )
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()
            print(
                f"filled {len(names)} projects x {args.days} days: {written} metric values, "
                f"{len(names) * args.days} snapshots and runs in {time.perf_counter() - started:.1f}s "
                f"(database {size[0] if size else '?'})"
            )
            indexes = secondary_indexes(conn)
        grafana = psycopg.conninfo.make_conninfo(dsn, user=role.name, password=role.password)
        with psycopg.connect(grafana, autocommit=True) as conn:
            sqls = expanded(conn, datetime.now(UTC), [int(d) for d in args.ranges.split(",")])
            settings = conn.execute(
                "SELECT current_setting('server_version'), current_setting('shared_buffers')"
            ).fetchone()
            print(f"PostgreSQL {settings[0] if settings else '?'}, shared_buffers {settings[1] if settings else '?'}")
            jitter = bench_queries(conn, [("baseline", JITTER_SQL)], args.runs * 2)["baseline"]
            print(
                f"machine jitter, a fixed CPU-bound query: p50 {p(jitter, 0.5):.2f} ms, p95 {p(jitter, 0.95):.2f} ms "
                f"(p95/p50 {p(jitter, 0.95) / p(jitter, 0.5):.2f})"
            )
        if args.rows_digest:
            base = {args.rows_base: committed_dashboards(args.rows_base)} if args.rows_base else {}
            ranges = [int(d) for d in args.ranges.split(",")]
            sys.exit(rows_digest(grafana, {"working tree": load_dashboards(), **base}, ranges, args.rows_digest))
        first = next(iter(sqls))
        print(f"{len(sqls[first])} queries; timing with indexes ({args.runs} runs) ...")
        with_idx = measure(dsn, role, sqls, args.runs, [])
        without = None
        if args.runs_without_indexes:
            print(f"... and without the bridge's indexes {indexes} ({args.runs_without_indexes} runs)")
            without = measure(dsn, role, sqls, args.runs_without_indexes, indexes)
    report(sqls, with_idx, without, jitter)


def report(sqls: dict[str, list[tuple[str, str]]], with_idx: Any, without: Any, jitter: list[float]) -> None:
    labels = list(sqls)
    head = f"{'query':<58} " + " ".join(f"{label + ' p50':>10} {'p95':>7}" for label in labels)
    if without is not None:
        head += " | no-index p95 " + "/".join(labels)
    print(f"\n{head}\n{'-' * len(head)}")
    slow = []
    for name, _ in sqls[labels[0]]:
        line = f"{name[:58]:<58} " + " ".join(
            f"{p(with_idx[label][name], 0.5):10.2f} {p(with_idx[label][name], 0.95):7.2f}" for label in labels
        )
        if without is not None:
            line += " | " + "/".join(f"{p(without[label][name], 0.95):.1f}" for label in labels)
        print(line)
        if max(p(with_idx[label][name], 0.95) for label in labels) >= GOAL_MS:
            slow.append(name)
    worst = max(max(p(with_idx[label][n], 0.95) for label in labels) for n, _ in sqls[labels[0]])
    print('\nmilliseconds, client side (execute + fetch), as the Grafana role, "All" projects')
    print(
        f"the machine's baseline, a fixed CPU-bound query: p50 {p(jitter, 0.5):.2f} ms, p95 {p(jitter, 0.95):.2f} ms; "
        f"worst p95 / baseline p50: {worst / p(jitter, 0.5):.2f}"
    )
    verdict = f"MISSED by {slow}" if slow else "met"
    print(f"worst p95: {worst:.2f} ms; goal for every panel, variable and alert query p95 < {GOAL_MS:.0f} ms:")
    print(f"  {verdict}")


if __name__ == "__main__":
    main()
