"""Does the Grafana generator write what REV holds, but for SQL whitespace? `python bench/grafana_same_json.py [REV]`

For a refactor of evmon.grafana (grafana/*.py): every dashboard as the generator renders it now (what
`evmon grafana-dashboards` writes) against grafana/dashboards/*.json as committed at REV (default HEAD),
after json.loads. The SQL strings (each target's rawSql; a Postgres query variable's query and
definition) are compared with every run of whitespace collapsed to one space and leading and trailing
whitespace removed; everything else (keys and their order, uids, panel ids, refIds, formats, datasources,
PromQL, descriptions...) must be identical, value and type. The generator writes nothing else.
Prints one line per file: identical; or the same but for whitespace in N SQL strings (M of them differ
in their leading or trailing whitespace); or the first paths that differ. Exits 1 if a file differs, is
missing, or is new.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evmon.grafana.generate import render_all

REPO = Path(__file__).resolve().parents[1]
FOLDER = "grafana/dashboards"
POSTGRES = "grafana-postgresql-datasource"


def committed(rev: str) -> dict[str, Any]:
    """REV's grafana/dashboards/*.json, parsed: file name -> dashboard."""
    listing = subprocess.run(
        ["git", "ls-tree", "--name-only", rev, f"{FOLDER}/"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    out = {}
    for path in sorted(p for p in listing if p.endswith(".json")):
        text = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=REPO, capture_output=True, check=True).stdout
        out[Path(path).name] = json.loads(text)
    return out


def squeeze(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def ends(text: str) -> tuple[str, str]:
    """The leading and the trailing whitespace."""
    return text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]


def is_sql(path: tuple[Any, ...], root: Any) -> bool:
    """A target's rawSql, or the query or definition of a template variable of the Postgres datasource."""
    if path[-1] == "rawSql":
        return True
    if len(path) == 4 and path[:2] == ("templating", "list") and path[3] in ("query", "definition"):
        return bool(root["templating"]["list"][path[2]].get("datasource", {}).get("type") == POSTGRES)
    return False


def compare(old: Any, new: Any, path: tuple[Any, ...], root: Any, found: dict[str, list[str]]) -> None:
    """Record in `found` each path that differs ("differs"), or whose SQL differs in whitespace only."""
    where = "/".join(map(str, path))
    if isinstance(old, dict) and isinstance(new, dict):
        if list(old) != list(new):
            found["differs"].append(f"{where}: keys {list(old)} -> {list(new)}")
            return
        for key in old:
            compare(old[key], new[key], (*path, key), root, found)
    elif isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            found["differs"].append(f"{where}: {len(old)} items -> {len(new)}")
            return
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            compare(a, b, (*path, i), root, found)
    elif type(old) is type(new) and old == new:
        return
    elif isinstance(old, str) and isinstance(new, str) and is_sql(path, root) and squeeze(old) == squeeze(new):
        found["sql whitespace"].append(where)
        if ends(old) != ends(new):
            found["sql whitespace at the ends"].append(where)
    else:
        found["differs"].append(f"{where}: {old!r:.80} -> {new!r:.80}")


def main() -> int:
    rev = sys.argv[1] if len(sys.argv) > 1 else "HEAD"
    before = committed(rev)
    now = {name: json.loads(text) for name, text in render_all().items()}
    failed = False
    for name in sorted(set(before) | set(now)):
        if name not in now or name not in before:
            print(f"{name}: {'missing from the generator' if name not in now else f'not in {rev}'}")
            failed = True
            continue
        found: dict[str, list[str]] = {"differs": [], "sql whitespace": [], "sql whitespace at the ends": []}
        compare(before[name], now[name], (), now[name], found)
        if found["differs"]:
            failed = True
            print(f"{name}: DIFFERS from {rev}:")
            for line in found["differs"][:20]:
                print(f"  {line}")
        else:
            spaced, at_ends = len(found["sql whitespace"]), len(found["sql whitespace at the ends"])
            said = f"the same but for whitespace in {spaced} SQL strings ({at_ends} of them at the ends)"
            print(f"{name}: {'identical' if not spaced else said} to {rev}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
