"""`bench/backfill.py --versus COMMIT`: the naive loop, evmon at COMMIT and evmon here, same days.

The previous evmon is the tree of COMMIT exported with `git archive` into the bench's out folder
(bench/out/backfill/prev-<commit>/, once; no worktree, nothing installed) and run in a subprocess
with PYTHONPATH pointing there, so `import evmon` (and the worker processes it starts, which import
evmon from where their parent did) load that code with this venv's Evidently; the new evmon runs
the same way with PYTHONPATH pointing at this checkout. Both sides run bench/_versus_side.py's
`run_many` over the same days into fresh workspaces, `rounds` times, alternating which goes first
(the machine is shared: paired ratios weigh a drifting load on both alike), with PYTHONHASHSEED=0
on both so that Evidently's dict orders match, and the snapshots of the last round are compared
byte for byte (the widgets' time-based uuids aside). The naive loop runs in this process once a
round. Then each side's second day is run once more in one process with its stack sampled
(bench/_day_profile.py): the share of a day still outside the statistics; the first day before it, timed
alone, is the cold day (the reference's side computed too): what each night's one day of a project costs
in a process of its own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

REPO = Path(__file__).resolve().parents[1]
NIGHTS = 5  # the scheduler's nights measured after the backfill rounds
SIDE = REPO / "bench" / "_versus_side.py"
# Evidently gives every widget a fresh time-based uuid: the only bytes that differ run to run
_UUID = re.compile(rb'"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"')


def previous_tree(out: Path, commit: str) -> Path:
    """The files of `commit` (exported once into out/prev-<commit>/)."""
    full = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", f"{commit}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tree = out / f"prev-{full[:7]}"
    if not (tree / "evmon" / "__init__.py").exists():
        shutil.rmtree(tree, ignore_errors=True)
        tree.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", full], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def _side(tree: Path, *args: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0", "DO_NOT_TRACK": "1"}
    done = subprocess.run(
        [sys.executable, str(SIDE), *args], cwd=tree, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"bench side at {tree} failed:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _nights(config_path: Path, out: Path, trees: dict[str, Path], count: int) -> None:
    """The scheduler's nights: one day per fire; before the pool (a new process each night) and with it."""
    runs = [(name, tree, "cold") for name, tree in trees.items()] + [("evmon now", trees["evmon now"], "warm")]
    medians: dict[str, float] = {}
    print(f"{count} nights, one day each (a scheduler's fire: run_many of that day, 1 worker), wall s per night:")
    for name, tree, how in runs:
        workspace = out / f"ws_nights_{name.split()[1]}_{how}"
        shutil.rmtree(workspace, ignore_errors=True)
        side = _side(tree, "nights", str(config_path), str(workspace), str(count), how)
        walls = [float(w) for w in cast(list[float], side["walls"])]
        later = walls[1:] or walls
        label = f"{name}, {'kept process (pool)' if how == 'warm' else 'a new process a night'}"
        medians[f"{name} {how}"] = statistics.median(later)
        print(f"  {label:42} first {walls[0]:6.2f}  then median {statistics.median(later):6.2f}  (load {_load()})")
    before, now = list(trees)
    warm = medians[f"{now} warm"]
    print(
        f"a night after the first: now with the pool vs {before[6:]} {medians[f'{before} cold'] / warm:.2f}x, "
        f"vs now without it {medians[f'{now} cold'] / warm:.2f}x"
    )


def _snapshots(workspace: Path) -> dict[str, bytes]:
    return {p.name: _UUID.sub(b'"ID"', p.read_bytes()) for p in workspace.rglob("snapshots/*.json")}


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def versus(
    config_path: Path,
    out: Path,
    commit: str,
    days: int,
    workers: int,
    rounds: int,
    naive: Callable[[Path, Path], float],
) -> None:
    """Print wall per day of the three, the ratios, byte-identity and the sampled shares."""
    trees = {f"evmon {commit[:7]}": previous_tree(out, commit), "evmon now": REPO}
    walls: dict[str, list[float]] = {name: [] for name in ("naive", *trees)}
    cpus: dict[str, list[float]] = {name: [] for name in ("naive", *trees)}
    print(f"{days} days of credit_scorecard; drift + summary + classification; {workers} workers; {rounds} rounds")
    print(f"load average at start: {_load()} (2 cores, shared)")
    for round_ in range(rounds):
        workspace = out / "ws_versus_naive"
        shutil.rmtree(workspace, ignore_errors=True)
        cpu = time.process_time()
        walls["naive"].append(naive(config_path, workspace) / days)
        cpus["naive"].append((time.process_time() - cpu) / days)
        names = list(trees) if round_ % 2 == 0 else list(reversed(trees))
        for name in names:
            workspace = out / f"ws_versus_{name.split()[1]}"
            for folder in (workspace, workspace.parent / f".{workspace.name}.staging"):
                shutil.rmtree(folder, ignore_errors=True)
            side = _side(trees[name], "backfill", str(config_path), str(workspace), str(workers))
            if Path(str(side["evmon"])) != trees[name] / "evmon":
                raise SystemExit(f"{name}: imported evmon from {side['evmon']}, not {trees[name]}")
            walls[name].append(float(str(side["wall"])) / days)
            cpus[name].append(float(str(side["cpu"])) / days)
        line = ", ".join(f"{name} {walls[name][-1]:.2f} ({cpus[name][-1]:.2f} CPU)" for name in walls)
        print(f"  round {round_ + 1}: s/day {line}  (load {_load()})")
    before, now = list(trees)
    print(f"{'':28}wall s/day: median    min   CPU s/day: median    min")
    labels = {
        "naive": "naive loop (1 process)",
        before: f"{before} ({workers} workers)",
        now: f"{now} ({workers} workers)",
    }
    for name, label in labels.items():
        wall, cpu = walls[name], cpus[name]
        print(
            f"{label:28}{statistics.median(wall):18.2f} {min(wall):6.2f}  "
            f"{statistics.median(cpu):17.2f} {min(cpu):6.2f}"
        )
    paired = [b / n for b, n in zip(walls[before], walls[now], strict=True)]
    medians = {name: statistics.median(values) for name, values in walls.items()}
    print(
        f"speed-up now vs {commit[:7]}: of the medians {medians[before] / medians[now]:.2f}x, "
        f"paired per round median {statistics.median(paired):.2f}x (min {min(paired):.2f}x)  (goal >= 3x)"
    )
    print(f"speed-up now vs naive:   of the medians {medians['naive'] / medians[now]:.2f}x  (goal >= 5x)")
    cpu_paired = [b / n for b, n in zip(cpus[before], cpus[now], strict=True)]
    cpu_medians = {name: statistics.median(values) for name, values in cpus.items()}
    print(
        f"in CPU seconds a day: now vs {commit[:7]} {cpu_medians[before] / cpu_medians[now]:.2f}x "
        f"(paired median {statistics.median(cpu_paired):.2f}x), "
        f"now vs naive {cpu_medians['naive'] / cpu_medians[now]:.2f}x"
    )
    old, new = _snapshots(out / f"ws_versus_{before.split()[1]}"), _snapshots(out / "ws_versus_now")
    same = sum(1 for name in old if new.get(name) == old[name])
    print(f"snapshots byte-identical, now vs {commit[:7]} (widget uuids aside): {same} of {len(old)} days")
    _nights(config_path, out, trees, min(days, NIGHTS))
    print("one day in one process (the 2nd; the 1st warmed the caches), stack sampled every 2 ms:")
    for name, tree in trees.items():
        started = time.perf_counter()
        side = _side(tree, "profile", str(config_path))
        shares = side["shares"]
        assert isinstance(shares, dict)
        parts = ", ".join(f"{kind} {share:.0%}" for kind, share in shares.items())
        print(
            f"  {name:12} {float(str(side['wall'])):6.2f} s: {parts}; outside statistics {1 - shares['statistics']:.0%}"
            f"  (its first day, cold: {float(str(side['cold'])):.2f} s; process {time.perf_counter() - started:.0f} s"
            f" with imports; load {_load()})"
        )
