"""Project-days on a real Dask cluster (`dask scheduler` + `dask worker` processes on 127.0.0.1).

The workers compute, this process writes: every metric value equals the local executor's (to
the last few bits of a float: Evidently's sums depend on the order its arrays were built in,
which is not the same in two processes either), the run log says the same, and every failure
leaves whole files only and a re-run that completes the rest.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from evmon.config.loader import load_config
from evmon.config.sections import ExecutorSettings
from evmon.processes import free_port
from evmon.run.batch import DayTask
from evmon.run.executors.dask import ExecutorError, connect, day_process_pids
from evmon.run.many import run_many
from evmon.snapshot.flatten import flatten
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.storage.files import FilesWorkspace
from evmon.storage.runlog import RunLog
from tests.conftest import DEMO_END, DEMO_TODAY, REPO
from tests.dask_cluster import Cluster, dask_cluster, stop, wait_for_workers

pytestmark = pytest.mark.xdist_group("dask")  # one cluster for the module, on one xdist worker

DAYS = [DEMO_END - timedelta(days=i) for i in (2, 1, 0)]
PROJECTS = ("credit_scorecard", "taxi_duration")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with dask_cluster(tmp_path_factory.mktemp("dask")) as running:
        yield running


def on(cluster: Cluster) -> ExecutorSettings:
    return ExecutorSettings(type="dask", address=cluster.address)


def tasks(config, days=DAYS):  # type: ignore[no-untyped-def]
    return [DayTask(config.project(name), day) for name in PROJECTS for day in days]


def values(ws: FilesWorkspace, name: str, day) -> dict[tuple[object, ...], float | None]:  # type: ignore[no-untyped-def]
    """Every metric value of a snapshot (evmon.snapshot.flatten: what the bridge stores), by where it sits."""
    doc = ws.read_snapshot(project_id(name), daily_snapshot_id(name, day))
    return {(r.metric_id, r.column, r.label, r.value_kind): r.value for r in flatten(doc)}


def same_values(a: dict[tuple[object, ...], float | None], b: dict[tuple[object, ...], float | None]) -> bool:
    def close(x: float | None, y: float | None) -> bool:
        if x is None or y is None or math.isnan(x) or math.isnan(y):
            return (x is None) == (y is None) and (x is None or math.isnan(x) == math.isnan(y))
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)

    return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)


def runs_by_day(ws: FilesWorkspace) -> dict[tuple[str, object], tuple[object, ...]]:
    return {
        (r.project, r.day): (r.status, r.rows, r.labels_included, r.snapshot_id, r.trigger)
        for r in RunLog(ws.evmon_dir).records()
    }


def test_days_on_the_cluster_equal_the_local_executors(
    cluster: Cluster, demo_config_path: Path, demo_workspace: Path, tmp_path: Path
) -> None:
    """demo_workspace was computed by the local executor (worker processes) for the same days."""
    config = load_config(demo_config_path)
    ws = FilesWorkspace(tmp_path / "dask-ws")
    results = run_many(config, tasks(config), workspace=ws, today=DEMO_TODAY, executor=on(cluster))
    assert [r.outcome for r in results] == ["ok"] * len(results), [r.line() for r in results]
    local = FilesWorkspace(demo_workspace)
    for name in PROJECTS:
        for day in DAYS:
            assert same_values(values(ws, name, day), values(local, name, day)), (name, day)
            meta = ws.read_snapshot_header(project_id(name), daily_snapshot_id(name, day))
            assert meta == local.read_snapshot_header(project_id(name), daily_snapshot_id(name, day))
    with cluster.client() as client:  # each worker's days ran in a process without the nanny's allocator setting
        pids = [pid for running in client.run(day_process_pids).values() for pid in running]
    assert len(pids) == 2
    for pid in pids:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert any(entry.startswith(b"DO_NOT_TRACK=") for entry in environ)
        assert not any(entry.startswith(b"MALLOC_TRIM_THRESHOLD_=") for entry in environ)
    local_runs = {k: v for k, v in runs_by_day(local).items() if k[1] in DAYS}
    assert runs_by_day(ws) == {k: (*v[:4], "backfill") for k, v in local_runs.items()}

    stamps = {f.path: f.mtime_ns for name in PROJECTS for f in ws.list_snapshots(project_id(name))}
    again = run_many(config, tasks(config), workspace=ws, today=DEMO_TODAY, executor=on(cluster))
    assert {r.outcome for r in again} == {"exists"}  # nothing sent to the cluster, nothing rewritten
    assert {f.path: f.mtime_ns for name in PROJECTS for f in ws.list_snapshots(project_id(name))} == stamps

    forced = run_many(config, tasks(config), workspace=ws, today=DEMO_TODAY, executor=on(cluster), force=True)
    assert {r.outcome for r in forced} == {"ok"}
    for name in PROJECTS:
        for day in DAYS:
            assert same_values(values(ws, name, day), values(local, name, day)), (name, day)


def test_two_submitters_on_one_workspace_never_write_a_day_twice(
    cluster: Cluster, demo_config_path: Path, tmp_path: Path
) -> None:
    config = load_config(demo_config_path)
    ws = FilesWorkspace(tmp_path / "workspace")
    outcomes: list[str] = []

    def submit() -> None:
        results = run_many(config, tasks(config, DAYS[:2]), workspace=ws, today=DEMO_TODAY, executor=on(cluster))
        outcomes.extend(r.outcome for r in results)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert Counter(outcomes)["ok"] == 4 and set(outcomes) <= {"ok", "busy", "exists"}, outcomes
    ok_rows = Counter((r.project, r.day) for r in RunLog(ws.evmon_dir).records() if r.status == "ok")
    assert set(ok_rows.values()) == {1} and len(ok_rows) == 4


def test_a_worker_killed_mid_task_leaves_whole_files_and_a_rerun_completes(
    cluster: Cluster, demo_config_path: Path, tmp_path: Path
) -> None:
    config = load_config(demo_config_path)
    ws = FilesWorkspace(tmp_path / "workspace")
    days = [DEMO_END - timedelta(days=i) for i in range(6)]
    pids = list(cluster.worker_pids().values())
    killer = threading.Thread(target=_kill_when_busy, args=(ws, pids[0]))
    killer.start()
    results = run_many(config, tasks(config, days), workspace=ws, today=DEMO_TODAY, executor=on(cluster))
    killer.join()
    assert {r.outcome for r in results} <= {"ok", "failed"}
    for result in results:
        if result.failed:  # Dask gave up on the task: the day says so, nothing was written
            assert "the Dask cluster did not compute it" in (result.error or "")
    for name in PROJECTS:
        for file in ws.list_snapshots(project_id(name)):
            json.loads(file.path.read_bytes())  # every file the workspace holds is whole
    wait_for_workers(cluster.address, 2)  # the nanny restarted the killed worker
    again = run_many(config, tasks(config, days), workspace=ws, today=DEMO_TODAY, executor=on(cluster))
    assert {r.outcome for r in again} <= {"ok", "exists"}
    assert sum(len(ws.list_snapshots(project_id(name))) for name in PROJECTS) == 2 * len(days)


def _kill_when_busy(ws: FilesWorkspace, pid: int) -> None:
    """SIGKILL one worker process once the first snapshot is written (the others are computing)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if any(ws.list_snapshots(project_id(name)) for name in PROJECTS):
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.05)


def test_an_unreachable_scheduler_is_one_error_and_nothing_is_written(demo_config_path: Path, tmp_path: Path) -> None:
    config = load_config(demo_config_path)
    ws = FilesWorkspace(tmp_path / "workspace")
    nowhere = ExecutorSettings(type="dask", address=f"tcp://127.0.0.1:{free_port()}", connect_timeout_s=2)
    with pytest.raises(ExecutorError, match=r"^the Dask scheduler at tcp://127\.0\.0\.1:\d+ did not answer within 2s"):
        run_many(config, tasks(config, DAYS[:1]), workspace=ws, today=DEMO_TODAY, executor=nowhere)
    assert RunLog(ws.evmon_dir).records() == []
    assert [p for p in ws.root.rglob("*.json") if "snapshots" in p.parts] == []

    yaml = tmp_path / "projects.yaml"
    text = demo_config_path.read_text().replace("demo_data/", f"{demo_config_path.parent}/demo_data/")
    yaml.write_text(text + f"\nexecutor: {{type: dask, address: '{nowhere.address}', connect_timeout_s: 2}}\n")
    env = {**os.environ, "EVMON_WORKSPACE": str(ws.root)}
    cmd = [
        str(Path(sys.executable).with_name("evmon")),
        "-c",
        str(yaml),
        "run",
        "taxi_duration",
        "--day",
        str(DEMO_END),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    assert re.fullmatch(
        rf"Error: the Dask scheduler at {re.escape(nowhere.address)} did not answer within 2s \(.+\); "
        r"start it \(`dask scheduler`\), or run with --executor local\n",
        done.stderr,
    ), done.stderr


def test_the_submitter_killed_leaves_no_partial_snapshot_and_a_rerun_completes(
    cluster: Cluster, demo_config_path: Path, tmp_path: Path
) -> None:
    ws = FilesWorkspace(tmp_path / "workspace")
    start, end = DEMO_END - timedelta(days=7), DEMO_END
    evmon = str(Path(sys.executable).with_name("evmon"))
    cmd = [evmon, "backfill", "taxi_duration", "-c", str(demo_config_path), "--start", str(start), "--end", str(end)]
    cmd += ["--executor", cluster.address.replace("tcp://", "dask://")]
    env = {**os.environ, "EVMON_WORKSPACE": str(ws.root)}
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not ws.list_snapshots(project_id("taxi_duration")):
        time.sleep(0.05)
    process.kill()
    process.wait(30)
    written = ws.list_snapshots(project_id("taxi_duration"))
    assert 1 <= len(written) < 8
    for file in written:
        json.loads(file.path.read_bytes())
    time.sleep(3)  # what the cluster still computed for the dead client is written by nobody
    assert len(ws.list_snapshots(project_id("taxi_duration"))) == len(written)

    config = load_config(demo_config_path)
    days = [start + timedelta(days=i) for i in range(8)]
    again = run_many(
        config,
        [DayTask(config.project("taxi_duration"), d) for d in days],
        workspace=ws,
        today=DEMO_TODAY,
        executor=on(cluster),
    )
    assert Counter(r.outcome for r in again) == {"exists": len(written), "ok": 8 - len(written)}


def test_workers_of_another_evmon_version_are_refused(demo_config_path: Path, tmp_path: Path) -> None:
    """A worker importing evmon 0.0.9 (a copy of the package with another version): nothing is sent."""
    fake = tmp_path / "fake"
    subprocess.run([sys.executable, str(REPO / ".ci" / "package_tree.py"), str(fake)], check=True)
    init = fake / "evmon" / "__init__.py"
    text = init.read_text()
    init.unlink()
    init.write_text(text.replace('__version__ = "0.1.0"', '__version__ = "0.0.9"'))
    with dask_cluster(tmp_path / "cluster", workers=1, worker_env={"PYTHONPATH": str(fake)}) as other:
        config = load_config(demo_config_path)
        ws = FilesWorkspace(tmp_path / "workspace")
        with pytest.raises(ExecutorError) as refused:
            run_many(config, tasks(config, DAYS[:1]), workspace=ws, today=DEMO_TODAY, executor=on(other))
    message = str(refused.value)
    assert re.fullmatch(
        r"the Dask worker tcp://127\.0\.0\.1:\d+ runs evmon 0\.0\.9, this process evmon 0\.1\.0: "
        r"install the same versions on both sides",
        message,
    ), message
    assert RunLog(ws.evmon_dir).records() == []


def test_without_workers_the_cluster_is_refused(tmp_path: Path) -> None:
    with dask_cluster(tmp_path / "cluster", workers=1) as lone:
        for worker in lone.workers:
            stop(worker)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the scheduler has noticed its worker is gone
            try:
                connect(on(lone)).close()
            except ExecutorError as exc:
                assert str(exc) == (
                    f"the Dask scheduler at {lone.address} has no workers; start some (`dask worker {lone.address}`)"
                )
                return
            time.sleep(0.5)
        raise AssertionError("a cluster without workers was accepted")


def test_the_scheduler_fires_onto_the_cluster(
    cluster: Cluster, demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scheduler configured with `executor: {type: dask, ...}` computes its due days there."""
    import yaml

    from evmon.scheduler.service import SchedulerService, fixed_clock

    raw = yaml.safe_load((demo_dir / "projects.yaml").read_text())
    taxi = next(p for p in raw["projects"] if p["name"] == "taxi_duration")
    taxi["source"]["path"] = str(demo_dir / taxi["source"]["path"])
    taxi["reference"]["path"] = str(demo_dir / taxi["reference"]["path"])
    taxi["model"]["path"] = str(demo_dir / taxi["model"]["path"])
    taxi["max_catchup_days"] = 2
    raw["projects"] = [taxi]
    raw["executor"] = {"type": "dask", "address": "${DASK_SCHEDULER}"}
    config = tmp_path / "projects.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    ws = FilesWorkspace(tmp_path / "workspace")
    lines: list[str] = []
    monkeypatch.setenv("DASK_SCHEDULER", cluster.address)  # ${DASK_SCHEDULER} in projects.yaml
    service = SchedulerService(config, workspace=ws, now=fixed_clock(DEMO_TODAY), echo=lines.append)
    results = service.fire("taxi_duration")
    # in the order the cluster finished them
    assert sorted((r.day, r.outcome) for r in results) == [(DEMO_END - timedelta(days=1), "ok"), (DEMO_END, "ok")]
    assert {r.trigger for r in RunLog(ws.evmon_dir).records()} == {"scheduler"}


def test_without_the_dask_extra_the_executor_is_one_error(tmp_path: Path) -> None:
    """A process where `distributed` cannot be imported (as without `pip install 'evmon[dask]'`)."""
    script = """
import sys
sys.modules["distributed"] = None  # what a missing package looks like to an import
from evmon.config.sections import ExecutorSettings
from evmon.run.executors.dask import connect
try:
    connect(ExecutorSettings(type="dask", address="tcp://127.0.0.1:9"))
except Exception as exc:
    print(type(exc).__name__, exc)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout == (
        "ExecutorError the Dask executor needs the dask and distributed packages: pip install 'evmon[dask]'\n"
    ), done.stderr
