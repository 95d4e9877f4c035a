"""How fast "compare two days" answers after the first load, on the demo workspace.

    .venv/bin/python bench/app_compare.py [-c projects.yaml] [--project credit_scorecard] [--repeat 20]

Uses the workspace of projects.yaml (as `evmon demo` fills it); when that project has fewer
than two daily snapshots, it builds a small demo workspace in a temporary folder first (the
demo data and two real days). Measures:
- the library call the app makes, uncached: read both snapshots, their values, compare;
- the same through the app's cache (evmon.app.data, keyed by snapshot id and mtime);
- the app itself under streamlit.testing.v1.AppTest: a rerun of the compare view, and
  switching day B to another day already loaded once.
Goal: under 1 s after the first load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

os.environ["DO_NOT_TRACK"] = "1"
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import streamlit.logger  # noqa: E402

streamlit.logger.set_log_level("error")  # no "no runtime found" warnings outside `streamlit run`

from bench._timing import timed  # noqa: E402
from evmon.compare.values import compare, snapshot_values  # noqa: E402
from evmon.config.loader import load_config  # noqa: E402
from evmon.run.day import run_day  # noqa: E402
from evmon.snapshot.ids import daily_snapshot_id, project_id  # noqa: E402
from evmon.storage.base import Workspace  # noqa: E402
from evmon.storage.registry import workspace_for  # noqa: E402


def days_of(workspace: Workspace, project: str) -> list[date]:
    from evmon.app.data import project_catalog

    return project_catalog(workspace, project).days


def demo_workspace(folder: Path, project: str) -> Path:
    """A small demo: the demo data and two real days of `project` (about 10 s)."""
    from evmon.demo.data import ensure_demo_data

    shutil.copy(REPO / "projects.yaml", folder / "projects.yaml")
    end = date(2026, 3, 31)
    episodes = ensure_demo_data(folder / "demo_data", end=end)
    config = load_config(folder / "projects.yaml")
    os.environ["EVMON_WORKSPACE"] = str(folder / "workspace")
    workspace = workspace_for(config)
    workspace.prepare()
    for day in (episodes.feature_shift[0] - timedelta(days=7), episodes.feature_shift[0]):
        result = run_day(config, config.project(project), day, workspace=workspace, today=end + timedelta(days=1))
        print(f"  built {result.line()}")
    return folder / "projects.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", type=Path, default=Path(os.environ.get("EVMON_CONFIG", "projects.yaml")))
    parser.add_argument("--project", default="credit_scorecard")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    tmp: tempfile.TemporaryDirectory[str] | None = None
    config_path = args.config.absolute()
    config = load_config(config_path)
    workspace = workspace_for(config)
    days = days_of(workspace, args.project)
    if len(days) < 2:
        tmp = tempfile.TemporaryDirectory(prefix="evmon-bench-")
        print(f"{workspace.root} has {len(days)} day(s) of {args.project}; building a small demo in {tmp.name}")
        config_path = demo_workspace(Path(tmp.name), args.project)
        config = load_config(config_path)
        workspace = workspace_for(config)
        days = days_of(workspace, args.project)
    day_a, day_b = days[-2], days[-1]
    pid = project_id(args.project)
    size = workspace.snapshot_path(pid, daily_snapshot_id(args.project, day_b)).stat().st_size
    print(f"workspace {workspace.root}: {args.project} {day_a} vs {day_b} ({size / 1e6:.1f} MB a snapshot)")

    def library() -> object:
        a = snapshot_values(workspace.read_snapshot(pid, daily_snapshot_id(args.project, day_a)))
        b = snapshot_values(workspace.read_snapshot(pid, daily_snapshot_id(args.project, day_b)))
        return compare(a, b)

    median, worst = timed(library, args.repeat)
    print(f"library, uncached (read 2 snapshots + values + compare): median {median:.3f} s, max {worst:.3f} s")

    from evmon.app.data import project_catalog, values_of

    def cached() -> object:
        snapshots = project_catalog(workspace, args.project)
        ea, eb = snapshots.daily[day_a], snapshots.daily[day_b]
        a = values_of(workspace, args.project, ea.snapshot_id, ea.mtime_ns)
        b = values_of(workspace, args.project, eb.snapshot_id, eb.mtime_ns)
        return compare(a, b)

    cached()  # the first load
    median, worst = timed(cached, args.repeat)
    print(f"app data path after the first load (cached): median {median:.3f} s, max {worst:.3f} s")

    from streamlit.testing.v1 import AppTest

    os.environ["EVMON_CONFIG"] = str(config_path)
    at = AppTest.from_file(str(REPO / "streamlit_app" / "app.py"), default_timeout=120).run()
    at.sidebar.selectbox(key="project").set_value(args.project).run()
    at.sidebar.radio(key="view").set_value("Compare two days").run()
    at.selectbox(key="cmp_b").set_value(day_b).run()
    at.selectbox(key="cmp_a").set_value(day_a).run()  # the first load of both days
    assert not at.exception, at.exception
    median, worst = timed(lambda: at.run(), max(5, args.repeat // 4))
    print(f"AppTest rerun of the compare view: median {median:.3f} s, max {worst:.3f} s")
    other = days[-3] if len(days) > 2 else day_a

    def switch() -> None:
        at.selectbox(key="cmp_b").set_value(other).run()
        at.selectbox(key="cmp_b").set_value(day_b).run()

    switch()  # load `other` once
    median, worst = timed(switch, max(3, args.repeat // 8))
    print(f"AppTest: switch day B to another loaded day and back (2 reruns): median {median:.3f} s, max {worst:.3f} s")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
