"""Benchmark of the bridge: `python bench/bridge.py [--n 40] [--noop 10000] [--dsn DSN]`.

On N full-size snapshots (DataDriftPreset + DataSummaryPreset on 20 numerical + 5 categorical
columns, ~3.5 MB each: one real Evidently run, re-stamped with new ids and days):
  (a) the parse limit: stdlib json.loads of the same files (orjson and GC-paused shown too);
  (b) evmon's ingest end to end (read, parse, flatten, COPY, one transaction per snapshot);
  (c) Evidently's own SQL storage (json.loads + SnapshotModel + SQLDataStorage.add_snapshot_points);
  (d) a no-op re-sync over --noop small stripped snapshot files (must parse no file).
Postgres: --dsn, else EVMON_PG_DSN, else 127.0.0.1:5432 if it answers, else an embedded one.
Each run uses fresh databases (dropped at the end). Prints snapshots/s and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
import psycopg

import evmon  # noqa: F401  (DO_NOT_TRACK before Evidently)
from bench._postgres import admin_dsn
from evmon.bridge import parse as bridge_parse
from evmon.bridge import sync as bridge_sync
from evmon.bridge.sync import Bridge
from evmon.storage.files import FilesWorkspace
from tests.postgres import throwaway_database

OUT = Path(__file__).resolve().parent / "out"
BASE = OUT / "full_snapshot.json"


def base_snapshot() -> bytes:
    """One real full-size snapshot (cached in bench/out/)."""
    if BASE.exists():
        return BASE.read_bytes()
    import numpy as np
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset, DataSummaryPreset

    from evmon.evidently.report import snapshot_bytes

    rng = np.random.default_rng(0)

    def frame(n: int, shift: float) -> pd.DataFrame:
        data = {f"num_{i}": rng.normal(shift * (i % 3), 1 + i / 10, n) for i in range(20)}
        for j in range(5):
            data[f"cat_{j}"] = rng.choice([f"v{k}" for k in range(4 + j)], n)
        out = pd.DataFrame(data)
        out.loc[rng.random(n) < 0.02, "num_3"] = np.nan
        return out

    definition = DataDefinition(
        numerical_columns=[f"num_{i}" for i in range(20)], categorical_columns=[f"cat_{j}" for j in range(5)]
    )
    reference = Dataset.from_pandas(frame(10_000, 0.0), data_definition=definition)
    current = Dataset.from_pandas(frame(1_000, 0.3), data_definition=definition)
    print("generating one full-size snapshot with Evidently (once, cached in bench/out/) ...", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([DataDriftPreset(), DataSummaryPreset()]).run(
            current, reference, timestamp=datetime(2026, 1, 1)
        )
    payload = snapshot_bytes(snapshot.to_snapshot_model())
    OUT.mkdir(exist_ok=True)
    BASE.write_bytes(payload)
    return payload


def restamped(doc: dict, day: date) -> bytes:
    doc = dict(doc)
    doc["timestamp"] = f"{day.isoformat()}T00:00:00"
    doc["metadata"] = {"evmon_kind": "daily", "day": day.isoformat(), "rows": "1000", "labels": "no"}
    doc["tags"] = ["daily"]
    return json.dumps(doc).encode()


def stripped(doc: dict, keep: int = 12) -> dict:
    """A small snapshot: a few metric results, no plots (like a stripped workspace's)."""
    results = {}
    for key, result in list(doc["metric_results"].items())[:keep]:
        results[key] = {k: v for k, v in result.items() if k != "widget"}
    return {**doc, "metric_results": results, "widgets": [], "tests_widgets": []}


def timed(label: str, n: int, seconds: float) -> float:
    rate = n / seconds
    print(f"  {label:<58} {n:>6} in {seconds:7.2f}s = {rate:8.1f} snapshots/s")
    return rate


def bench_parse(paths: list[Path]) -> dict[str, float]:
    rates = {}
    for label, loads in (("(a) json.loads (stdlib), the parse limit", json.loads), ("    orjson.loads", orjson.loads)):
        start = time.perf_counter()
        for path in paths:
            loads(path.read_bytes())
        rates[label] = timed(label, len(paths), time.perf_counter() - start)
    for label, loads in (
        ("    json.loads, GC paused", json.loads),
        ("    orjson.loads, GC paused (evmon's parser)", orjson.loads),
    ):
        gc.disable()
        start = time.perf_counter()
        for path in paths:
            loads(path.read_bytes())
        gc.enable()
        rates[label] = timed(label, len(paths), time.perf_counter() - start)
    return rates


def bench_evidently(dsn: str, ws: FilesWorkspace, pid: uuid.UUID) -> float:
    from evidently.core.serialization import SnapshotModel
    from evidently.ui.service.storage.sql.data import SQLDataStorage
    from sqlalchemy import create_engine

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE metrics (metric_hash varchar PRIMARY KEY, metric_json varchar NOT NULL)")
        conn.execute(
            """CREATE TABLE points (id serial PRIMARY KEY, project_id uuid NOT NULL, snapshot_id uuid NOT NULL,
               metric_type varchar NOT NULL, params json NOT NULL, value float NOT NULL)"""
        )
        conn.execute("CREATE INDEX points_project_snapshot_idx ON points (project_id, snapshot_id)")
    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn))
    storage = SQLDataStorage(engine)
    files = ws.list_snapshots(pid)
    start = time.perf_counter()
    for file in files:
        model = SnapshotModel.parse_obj(json.loads(file.path.read_bytes()))
        asyncio.run(storage.add_snapshot_points(pid, file.snapshot_id, model))
    rate = timed("(c) Evidently SQLDataStorage end to end", len(files), time.perf_counter() - start)
    engine.dispose()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="full-size snapshots (default 40)")
    parser.add_argument("--noop", type=int, default=10_000, help="snapshot files for the no-op re-sync")
    parser.add_argument("--dsn", default=None, help="admin DSN of a Postgres (default: see above)")
    args = parser.parse_args()

    doc = json.loads(base_snapshot())
    tmp = Path(tempfile.mkdtemp(prefix="evmon-bench-"))
    try:
        ws = FilesWorkspace(tmp / "ws")
        ws.prepare()
        pid = ws.ensure_project("bench_full")
        for i in range(args.n):
            ws.write_snapshot(pid, uuid.uuid4(), restamped(doc, date(2026, 1, 1) + timedelta(days=i)))
        files = ws.list_snapshots(pid)
        size = sum(f.size for f in files) / len(files) / 1e6
        print(f"{args.n} full-size snapshots, {size:.2f} MB each, {len(doc['metric_results'])} metric results")
        paths = [f.path for f in files]
        bench_parse(paths)  # warms the page cache for what follows, too
        rates = bench_parse(paths)
        parse_limit = rates["(a) json.loads (stdlib), the parse limit"]

        with admin_dsn(args.dsn, try_local=True) as admin:
            with throwaway_database(admin, "evmon_bench_") as dsn:
                bridge = Bridge(ws, dsn)
                bridge.store()  # migrations are not part of the ingest
                start = time.perf_counter()
                result = bridge.sync_once()
                assert result.ingested == args.n and not result.failed, result.line()
                ours = timed(
                    "(b) evmon ingest end to end (COPY, 1 txn per snapshot)", args.n, time.perf_counter() - start
                )
                with psycopg.connect(dsn) as conn:
                    values = conn.execute("SELECT count(*) FROM evmon.metric_values").fetchone()
                bridge.close()
            with throwaway_database(admin, "evmon_bench_") as dsn:
                theirs = bench_evidently(dsn, ws, pid)
            print(f"  rows per snapshot: {values[0] // args.n if values else 0}")
            print(f"  ratio (b)/(a) = {ours / parse_limit:.2f}  (goal >= 0.8)")
            floor = rates["    orjson.loads, GC paused (evmon's parser)"]
            print(f"  ratio (b)/(evmon's own parser alone) = {ours / floor:.2f}  (what flatten + COPY + commit cost)")
            print(f"  ratio (b)/(c) = {ours / theirs:.2f}  (goal: well above 1)")

            # (d) the no-op re-sync over many files
            small = orjson.dumps(stripped(doc), option=orjson.OPT_SERIALIZE_NUMPY)
            ws_small = FilesWorkspace(tmp / "ws_small")
            ws_small.prepare()
            projects = [ws_small.ensure_project(f"bench_{k}") for k in range(3)]
            for i in range(args.noop):
                ws_small.write_snapshot(projects[i % 3], uuid.uuid4(), small)
            print(f"{args.noop} small snapshot files ({len(small) / 1e3:.1f} kB each)")
            with throwaway_database(admin, "evmon_bench_") as dsn:
                bridge = Bridge(ws_small, dsn)
                bridge.store()
                start = time.perf_counter()
                first = bridge.sync_once()
                timed("    first sync (ingest of the small files)", first.ingested, time.perf_counter() - start)
                parsed = 0
                original = bridge_parse.build_record

                def counting(*a, **k):  # type: ignore[no-untyped-def]
                    nonlocal parsed
                    parsed += 1
                    return original(*a, **k)

                bridge_sync.build_record = counting  # type: ignore[assignment]
                start = time.perf_counter()
                noop = bridge.sync_once()
                seconds = time.perf_counter() - start
                bridge_sync.build_record = original
                bridge.close()
                assert noop.ingested == 0 and noop.unchanged == args.noop
                print(
                    f"  (d) no-op re-sync over {args.noop} files: {seconds:.3f}s, files parsed: {parsed}"
                    " (goal < 1 s, 0)"
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
