"""How fast the fleet table answers, from the bridge's Postgres: 100 projects x 365 days against 1 project.

    .venv/bin/python bench/fleet.py [--dsn postgresql://...] [--projects 100] [--days 365] [--repeat 7]

Generates the bridge's rows in a throwaway database with SQL (tests/fleet/generated.py: snapshots, runs,
owners, the metric values the fleet reads and 40 filler values per snapshot, VACUUM ANALYZEd), ending
yesterday, then measures, in the same run, on 1 project (the baseline) and on --projects:
- the library call the Fleet page makes (evmon.fleet.table.fleet_table), median and max of --repeat;
- the Fleet page itself under streamlit.testing.v1.AppTest: a rerun of the app's script (filters, query,
  table), median and max of --repeat after a first run.
Goal (issue 28): under 1 s for 100 projects x 1 year. Postgres: --dsn, else EVMON_PG_DSN, else
127.0.0.1:5432, else an embedded server.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ["DO_NOT_TRACK"] = "1"
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import streamlit.logger  # noqa: E402

streamlit.logger.set_log_level("error")  # no "no runtime found" warnings outside `streamlit run`

from bench._postgres import admin_dsn  # noqa: E402
from bench._timing import timed  # noqa: E402
from evmon.bridge.settings import GrafanaRole  # noqa: E402
from evmon.fleet.table import fleet_table  # noqa: E402
from tests.fleet.generated import generate  # noqa: E402
from tests.postgres import throwaway_database  # noqa: E402


def page_run(dsn: str, config: Path) -> Callable[[], object]:
    """A rerun of the app's script on the Fleet page (its first page), reading `dsn`: the filters, the query,
    the table (one AppTest, as a browser session reruns the script)."""
    from streamlit.testing.v1 import AppTest

    os.environ["EVMON_PG_DSN"] = dsn
    os.environ["EVMON_CONFIG"] = str(config)
    at = AppTest.from_file(str(REPO / "streamlit_app" / "app.py"), default_timeout=120).run()

    def run() -> object:
        at.run()
        assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
        assert at.header[0].value == "Fleet", at.header
        return at

    run()  # the first run imports the app's modules
    return run


def measure(admin: str, projects: int, days: int, repeat: int, config: Path) -> dict[str, float]:
    end = datetime.now(UTC).date() - timedelta(days=1)
    role = GrafanaRole(f"evmon_grafana_b{uuid.uuid4().hex[:10]}", None)
    with throwaway_database(admin, "evmon_bench_fleet_", drop_role=role.name) as dsn:
        start = time.perf_counter()
        generate(dsn, projects, days, end, role)
        made = time.perf_counter() - start
        rows = fleet_table(dsn)
        assert len(rows) == projects, len(rows)
        query, query_max = timed(lambda: fleet_table(dsn), repeat)
        page, page_max = timed(page_run(dsn, config), repeat)
    print(
        f"{projects:>4} projects x {days} days ({projects * days} snapshots, generated in {made:.1f} s): "
        f"query median {query:.3f} s (max {query_max:.3f}), Fleet page median {page:.3f} s (max {page_max:.3f})"
    )
    return {"query": query, "page": page}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", help="an admin DSN (default: EVMON_PG_DSN, 127.0.0.1:5432, or embedded)")
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with admin_dsn(args.dsn, try_local=True) as admin, tempfile.TemporaryDirectory() as tmp:
        os.environ["EVMON_WORKSPACE"] = str(Path(tmp) / "workspace")  # the app's workspace: unused by the page
        config = REPO / "projects.yaml"
        base = measure(admin, 1, args.days, args.repeat, config)
        full = measure(admin, args.projects, args.days, args.repeat, config)
    print(
        f"ratio {args.projects} projects / 1 project: query {full['query'] / base['query']:.1f}x, "
        f"page {full['page'] / base['page']:.1f}x; goal under 1 s: "
        f"query {'met' if full['query'] < 1 else 'MISSED'}, page {'met' if full['page'] < 1 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
