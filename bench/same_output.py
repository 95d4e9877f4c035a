"""Does this checkout write what another revision writes? The demo's snapshots and the bridge's rows, side by side.

For a change that must not change behaviour (a refactor, a speed-up): the same demo days are computed
by another revision (a git revision of this repository, checked out into a temporary worktree and
imported from a package tree of links, .ci/package_tree.py) and by this checkout, each in its own
process with the same PYTHONHASHSEED (Evidently orders some of a snapshot's dicts by set iteration,
which string hashing randomises per process), and each workspace is synced by its own revision's
bridge into a throwaway database. Then:

- every file of the two workspaces (snapshots, metadata.json, dashboard.json) must be byte-identical
  once the widget ids Evidently draws afresh on every run are replaced by one placeholder;
- every table and view of the bridge's schema must hold the same rows, leaving out only the columns
  that say when or where a file or a run was written (and the run log's random run ids); floats are
  compared to 1e-12 (the rollups' sums add rows in the order Postgres reads them).

    python bench/same_output.py --base 62d7d9a [--days 12] [--end 2026-12-04] [--dsn DSN]

Prints one line per table and a verdict; exit 1 if anything differs.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._postgres import admin_dsn  # noqa: E402
from tests.postgres import throwaway_database  # noqa: E402

_WIDGET_ID = re.compile(rb'"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"')
# columns that say when or where something was written, not what: left out of the comparison
_WHEN = {"ingested_at", "file_path", "file_mtime_ns", "started_at", "duration_s", "updated_at", "last_run_at"}
_WHEN |= {"synced_at", "applied_at", "run_id"}  # bookkeeping times, and the run log's random run ids
# float sums over rows (the rollups) follow the order Postgres reads the rows in: equal to the last bits
_FLOAT_TOLERANCE = 1e-12
_WHEN_ONLY = {"sync_state"}  # the bridge's own bookkeeping: file versions and times


def evmon(tree: Path | None, config: Path, *args: str, dsn: str | None = None) -> str:
    """Run the `evmon` command of a package tree (None: this checkout's) in a fresh process."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "DO_NOT_TRACK": "1"}
    if dsn is not None:
        env["EVMON_PG_DSN"] = dsn
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    code = (
        "import sys, evmon; from evmon.cli import main; "
        f"assert {str(tree) if tree else ''!r} in evmon.__file__, evmon.__file__; "
        "sys.argv = ['evmon', *sys.argv[1:]]; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "-c", str(config), *args],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise SystemExit(f"evmon {' '.join(args)} failed ({tree or 'this checkout'}):\n{done.stderr[-3000:]}")
    said = (done.stdout + done.stderr).strip().splitlines()
    return said[-1] if said else ""


def same_files(a: Path, b: Path) -> list[str]:
    """Differences between two workspaces' JSON files, widget ids aside."""
    names_a = sorted(p.relative_to(a) for p in a.rglob("*.json"))
    names_b = sorted(p.relative_to(b) for p in b.rglob("*.json"))
    problems = [f"only in one workspace: {name}" for name in sorted(set(names_a) ^ set(names_b))]
    for name in sorted(set(names_a) & set(names_b)):
        if _WIDGET_ID.sub(b'"ID"', (a / name).read_bytes()) != _WIDGET_ID.sub(b'"ID"', (b / name).read_bytes()):
            problems.append(f"differs: {name}")
    print(f"workspace: {len(names_a)} files compared, {len(problems)} differences")
    return problems


def _rows(conn: psycopg.Connection, relation: str) -> tuple[list[str], list[tuple[object, ...]]]:
    columns = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'evmon' AND table_name = %s "
            "ORDER BY ordinal_position",
            (relation,),
        )
    ]
    kept = [c for c in columns if c not in _WHEN]
    listed = ", ".join(f'"{c}"' for c in kept)
    rows = conn.execute(f'SELECT {listed} FROM evmon."{relation}"').fetchall()  # names from the catalog
    return kept, sorted(rows, key=lambda row: tuple("" if v is None else str(v) for v in row))


def _same(x: object, y: object) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return x == y or (x != x and y != y) or math.isclose(x, y, rel_tol=_FLOAT_TOLERANCE, abs_tol=_FLOAT_TOLERANCE)
    return x == y


def _same_rows(rows_a: list[tuple[object, ...]], rows_b: list[tuple[object, ...]]) -> bool:
    return len(rows_a) == len(rows_b) and all(
        len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
        for a, b in zip(rows_a, rows_b, strict=True)
    )


def same_rows(dsn_a: str, dsn_b: str) -> list[str]:
    """Differences between two bridge databases, table by table and view by view."""
    problems: list[str] = []
    with psycopg.connect(dsn_a) as a, psycopg.connect(dsn_b) as b:
        listing = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'evmon' ORDER BY 1"
        relations_a = [r[0] for r in a.execute(listing)]
        relations_b = [r[0] for r in b.execute(listing)]
        problems += [f"only in one database: {name}" for name in sorted(set(relations_a) ^ set(relations_b))]
        for relation in [r for r in relations_a if r in relations_b and r not in _WHEN_ONLY]:
            columns_a, rows_a = _rows(a, relation)
            columns_b, rows_b = _rows(b, relation)
            same = columns_a == columns_b and _same_rows(rows_a, rows_b)
            print(f"  {relation:24s} {len(rows_a):7d} rows  {'equal' if same else 'DIFFERENT'}")
            if not same:
                problems.append(f"bridge: {relation} differs{_first_difference(columns_a, rows_a, rows_b)}")
    return problems


def _first_difference(columns: list[str], rows_a: list[tuple[object, ...]], rows_b: list[tuple[object, ...]]) -> str:
    if len(rows_a) != len(rows_b):
        return f": {len(rows_a)} rows against {len(rows_b)}"
    for row_a, row_b in zip(rows_a, rows_b, strict=True):
        if not _same_rows([row_a], [row_b]):
            cells = [
                f"{c}: {x!r} against {y!r}" for c, x, y in zip(columns, row_a, row_b, strict=True) if not _same(x, y)
            ]
            return f", first in {'; '.join(cells)}"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the revision to compare with (e.g. main, a commit)")
    parser.add_argument("--days", type=int, default=12, help="demo days to compute (default 12)")
    parser.add_argument("--end", default="2026-12-04", help="the demo data's last day (fixed: same data both sides)")
    parser.add_argument("--dsn", default=None, help="an admin DSN for throwaway databases (default: local or embedded)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="evmon-same-") as tmp:
        out = Path(tmp)
        source = out / "base-checkout"
        git = ["git", "-C", str(REPO), "worktree"]
        subprocess.run([*git, "add", "-q", "--detach", str(source), args.base], check=True)
        try:
            tree = out / "base-tree"
            subprocess.run(
                [sys.executable, str(source / ".ci" / "package_tree.py"), str(tree)], check=True, capture_output=True
            )
            sides = {"base": tree, "this": None}
            configs = {}
            for name, side_tree in sides.items():
                folder = out / name
                folder.mkdir()
                configs[name] = folder / "projects.yaml"
                shutil.copy(REPO / "projects.yaml", configs[name])
                line = evmon(
                    side_tree, configs[name], "demo", "--no-serve", "--days", str(args.days), "--end", args.end
                )
                print(f"{name}: {line}")
            problems = same_files(out / "base" / "workspace", out / "this" / "workspace")
            with (
                admin_dsn(args.dsn, try_local=True) as admin,
                throwaway_database(admin, "evmon_same_a_") as dsn_a,
                throwaway_database(admin, "evmon_same_b_") as dsn_b,
            ):
                evmon(tree, configs["base"], "bridge", "--once", dsn=dsn_a)
                evmon(None, configs["this"], "bridge", "--once", dsn=dsn_b)
                print("bridge:")
                problems += same_rows(dsn_a, dsn_b)
        finally:
            subprocess.run([*git, "remove", "--force", str(source)], check=False)
    for problem in problems:
        print(problem)
    print(f"{args.base} vs this checkout: {'the same output' if not problems else f'{len(problems)} differences'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
