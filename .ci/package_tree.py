"""Build the `evmon` package as installed (pyproject's package-dir mapping) as a tree of symlinks.

mypy and import-linter find packages by walking folders, so they cannot see that scheduler/,
bridge/ and streamlit_app/ are evmon.scheduler, evmon.bridge and evmon.app. This writes
<out>/evmon/... with real folders and one symlink per source file, exactly as a wheel lays
them out; `./run.sh check` runs both tools in it.

    python .ci/package_tree.py OUT
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build(out: Path) -> Path:
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping: dict[str, str] = setuptools["package-dir"]
    for package in setuptools["packages"]:
        top = next(name for name in sorted(mapping, key=len, reverse=True) if (package + ".").startswith(name + "."))
        source = REPO / mapping[top] / Path(*package.split(".")[len(top.split(".")) :])
        target = out / Path(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for file in sorted(source.glob("*.py")):
            link = target / file.name
            if not link.exists():
                link.symlink_to(file)
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]).absolute()))
