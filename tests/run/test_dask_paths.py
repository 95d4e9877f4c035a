"""The paths a Dask worker reads: projects.yaml's relative paths resolved by the submitter, and a
pre-flight check that a worker sees a project's files before any day is sent.

Real `dask scheduler` and `dask worker` processes (tests/dask_cluster.py), driven through the CLI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from evmon.storage.files import FilesWorkspace
from evmon.storage.runlog import RunLog
from tests.conftest import DEMO_END, DEMO_TODAY
from tests.dask_cluster import dask_cluster

pytestmark = pytest.mark.xdist_group("dask")

EVMON = str(Path(sys.executable).with_name("evmon"))
START, END = DEMO_END - timedelta(days=1), DEMO_END  # both in the shared demo workspace


def backfill(address: str, config: str, cwd: Path, workspace: Path) -> subprocess.CompletedProcess[str]:
    cmd = [EVMON, "-c", config, "backfill", "taxi_duration", "--start", str(START), "--end", str(END)]
    cmd += ["--today", str(DEMO_TODAY), "--executor", address.replace("tcp://", "dask://")]
    env = {**os.environ, "EVMON_WORKSPACE": str(workspace)}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def runs(workspace: Path) -> dict[tuple[str, object], tuple[object, ...]]:
    return {
        (r.project, r.day): (r.status, r.rows, r.labels_included, r.snapshot_id)
        for r in RunLog(FilesWorkspace(workspace).evmon_dir).records()
        if r.project == "taxi_duration" and START <= r.day <= END
    }


def test_workers_in_another_folder_read_the_files_of_a_relative_projects_yaml(
    demo_dir: Path, demo_workspace: Path, tmp_path: Path
) -> None:
    """`evmon -c projects.yaml` run in projects.yaml's folder (its paths relative: demo_data/...), the
    workers started in an empty folder: they read the files projects.yaml's folder holds, as the
    local executor did (the shared demo workspace), source and reference file alike."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    workspace = tmp_path / "workspace"
    with dask_cluster(tmp_path / "cluster", workers=1, worker_cwd=elsewhere) as cluster:
        done = backfill(cluster.address, "projects.yaml", demo_dir, workspace)
    assert (done.returncode, done.stdout) == (
        0,
        "taxi_duration: 2 days: 2 ok, 0 already there, 0 skipped (no rows), 0 failed\n",
    ), done.stdout + done.stderr
    assert runs(workspace) == runs(demo_workspace)
    assert list(elsewhere.iterdir()) == []


def hidden(folder: Path) -> list[str]:
    """A command prefix: what follows runs in a mount namespace of its own, where `folder` is an empty tmpfs."""
    script = 'mount -t tmpfs evmon-hidden "$0" && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, str(folder)]


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="hides a folder from a worker: needs root, unshare"
)
def test_a_worker_that_cannot_see_the_files_fails_the_run_once(demo_config_path: Path, tmp_path: Path) -> None:
    """The worker runs in a mount namespace of its own in which the demo data's folder is an empty
    tmpfs: the files are at those absolute paths for the submitter (and every other process) and not
    for the worker, as on a worker machine that lacks them. The run fails before any day is sent,
    with one line naming the worker and what it cannot see, and nothing is written."""
    data = demo_config_path.parent / "demo_data"
    workspace = tmp_path / "workspace"
    looks = [sys.executable, "-c", f"import os; print(os.listdir({str(data)!r}))"]
    assert subprocess.run([*hidden(data), *looks], capture_output=True, text=True, timeout=60).stdout == "[]\n"
    with dask_cluster(tmp_path / "cluster", workers=1, worker_prefix=hidden(data)) as cluster:
        (worker,) = cluster.worker_pids()
        done = backfill(cluster.address, str(demo_config_path), tmp_path, workspace)
    assert (data / "taxi_duration" / "reference.parquet").is_file()  # still there for everyone else
    pattern = data / "taxi_duration" / "daily" / "*.parquet"
    assert (done.returncode, done.stdout) == (1, ""), done.stdout + done.stderr
    assert done.stderr == (
        f"Error: dask worker {worker}: cannot see {pattern} (source.path of project 'taxi_duration': "
        "no file matches); the workers need the project's files at the same absolute paths, "
        "or an object-store URL\n"
    )
    assert runs(workspace) == {}
