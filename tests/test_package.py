"""One import name: evmon installs `evmon` only, beside whatever else an environment holds.

A real wheel is built from this checkout and installed with pip into a fresh venv that already
holds another distribution's `scheduler` package (a name evmon's fronts used to install under).
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

SITE = Path(next(p for p in sys.path if p.endswith("site-packages")))  # this venv's: evmon's dependencies


def _run(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, timeout=600)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO))
    (built,) = out.glob("evmon-*.whl")
    return built


def test_the_wheel_holds_one_top_level_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {name.split("/", 1)[0] for name in names if not name.split("/", 1)[0].endswith(".dist-info")}
    assert tops == {"evmon"}
    for module in (
        "evmon/scheduler/service.py",
        "evmon/bridge/sync.py",
        "evmon/app/app.py",
        "evmon/evidently/report.py",
    ):
        assert module in names


def test_installed_beside_another_scheduler_package_both_import_and_evmon_runs(
    wheel: Path, tmp_path: Path, demo_dir: Path
) -> None:
    other = tmp_path / "other-scheduler"
    (other / "scheduler").mkdir(parents=True)
    (other / "scheduler" / "__init__.py").write_text('WHO = "another distribution"\n')
    (other / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "other-scheduler"\nversion = "1.0"\n[tool.setuptools]\npackages = ["scheduler"]\n'
    )
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", str(venv))
    python = str(venv / "bin" / "python")
    _run(python, "-m", "pip", "install", "-q", "--no-deps", str(other))
    _run(python, "-m", "pip", "install", "-q", "--no-deps", str(wheel))
    # evmon's dependencies from this environment, after the new venv's own packages
    site = Path(_run(python, "-c", "import site; print(site.getsitepackages()[0])").strip())
    (site / "zz-dependencies.pth").write_text(f"{SITE}\n")

    probe = "import scheduler, evmon, evmon.scheduler.service; print(scheduler.WHO); print(evmon.__file__)"
    who, where = _run(python, "-c", probe, cwd=tmp_path).splitlines()
    assert who == "another distribution"
    assert Path(where).is_relative_to(site)  # the installed wheel, not this checkout
    assert _run(str(venv / "bin" / "evmon"), "--version", cwd=tmp_path) == "evmon, version 0.1.0\n"
    config = demo_dir / "projects.yaml"
    out = _run(str(venv / "bin" / "evmon"), "-c", str(config), "validate", cwd=tmp_path)
    assert out == f"{config}: OK, 3 projects (credit_scorecard, taxi_duration, credit_scorecard_live)\n"


def test_the_demo_installs_what_its_projects_declare() -> None:
    """`./run.sh demo` on a fresh machine: the demo's models are declared as skops files and explained each day
    (extra `explain`: without skops only model.pkl is written and every day logs "no explanations"), and its
    credit model is served with evmon.online (extra `online`)."""
    import re

    from evmon.config.loader import load_config

    [demo_install] = [
        line for line in (REPO / "run.sh").read_text().splitlines() if "pip install" in line and "demo" in line
    ]
    extras = set(re.search(r"\.\[([a-z0-9_,]+)\]", demo_install).group(1).split(","))  # type: ignore[union-attr]
    config = load_config(REPO / "projects.yaml")
    assert any(p.model is not None and p.model.path.endswith(".skops") for p in config.projects)
    assert any(p.online is not None for p in config.projects)
    assert {"explain", "online"} <= extras, demo_install
