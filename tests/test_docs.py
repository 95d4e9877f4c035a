"""The docs cannot drift from the code: every YAML example in README.md and docs/*.md loads through the
config loader, the README stays short, and every relative link (page, anchor, image) leads somewhere.

Which fenced blocks are YAML, and what happens to each (one rule; nothing is skipped):

- Every fenced block whose info string is ``yaml`` or ``yml`` is an example; the others (``bash``,
  ``toml``, console output without an info string) are not YAML to this test.
- A block whose line just before the fence is ``<!-- not projects.yaml: WHAT -->`` is another file
  (a docker-compose override, ...): it must parse (yaml.safe_load; Compose's own tags such as
  ``!reset`` are read as plain values) and must not have a ``projects`` key.
- Every other block is projects.yaml, whole or in part, told apart by its top-level keys:

  - a ``projects`` key: a whole projects.yaml, loaded exactly as written;
  - only top-level sections of projects.yaml (the fields of EvmonConfig: ``workspace``, ``bridge``,
    ``ui``, ``executor``, ...): merged into BASE below, each replacing BASE's section of that name;
  - only keys of a project (the fields of Project: ``source``, ``presets``, ``retention``, ...): merged
    into BASE's one project, each replacing its key of that name;
  - anything else fails: rewrite the block as one of these, or mark it as not projects.yaml.

  The result is written to tmp_path/projects.yaml and read by evmon.config.loader.load_config with
  EXAMPLE_ENV as the environment (the variables the examples name as ``${VAR}``). load_config does
  not open the files a config names (``evmon validate`` does), so an example's paths need not exist.
"""

from __future__ import annotations

import copy
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig, Project
from tests.conftest import REPO

README = REPO / "README.md"
PAGES = sorted((REPO / "docs").glob("*.md"))
MAX_README_LINES = 250
# the one page the README links that another change writes; every other linked page must exist
WRITTEN_ELSEWHERE = REPO / "docs" / "architecture.md"

NOT_PROJECTS_YAML = re.compile(r"^\s*<!-- not projects\.yaml: .+ -->\s*$")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)\s*(?P<info>[\w.+-]*)")
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)\)")

# a project that every project fragment can go into: a probability classifier with a segment column
BASE: dict[str, Any] = {
    "projects": [
        {
            "name": "example",
            "source": {"path": "data/*.parquet", "timestamp_column": "ts"},
            "reference": {"start": "2026-01-01", "end": "2026-01-31"},
            "columns": {
                "numerical": ["x"],
                "categorical": ["region"],
                "target": "y",
                "prediction": {"column": "p", "kind": "probability"},
            },
            "presets": {"data_drift": True},
        }
    ]
}
EXAMPLE_ENV = {"DASK_SCHEDULER": "tcp://dask-scheduler:8786"}


@dataclass(frozen=True)
class Block:
    file: Path
    line: int  # of the opening fence, from 1
    end: int  # of the closing fence
    info: str
    marker: str | None  # the <!-- not projects.yaml: ... --> line before it, if any
    text: str

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(REPO)}:{self.line}"


def fenced_blocks(file: Path) -> list[Block]:
    """Every fenced code block of a Markdown file (indented ones in lists too), with its info string."""
    lines = file.read_text().splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        body = []
        j = i + 1
        while j < len(lines) and not lines[j].startswith(indent + fence):
            body.append(lines[j])
            j += 1
        assert j < len(lines), f"{file}:{i + 1}: a code block is never closed"
        before = lines[i - 1] if i > 0 else ""
        marker = before.strip() if NOT_PROJECTS_YAML.match(before) else None
        text = textwrap.dedent("\n".join(body)) + "\n"
        blocks.append(Block(file, i + 1, j + 1, opening["info"].lower(), marker, text))
        i = j + 1
    return blocks


def yaml_blocks() -> list[Block]:
    return [b for f in [README, *PAGES] for b in fenced_blocks(f) if b.info in ("yaml", "yml")]


class _AnyTags(yaml.SafeLoader):
    """yaml.safe_load, but Compose's tags (!reset, !override) read as the plain values they tag."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_AnyTags.add_multi_constructor("!", _untagged)


def kind_of(block: Block, data: Any) -> str:
    """'other', 'whole', 'top-level fragment' or 'project fragment' (see the module's docstring)."""
    if block.marker is not None:
        return "other"
    assert isinstance(data, dict) and data, f"{block.where}: expected a mapping of projects.yaml's keys"
    keys = set(data)
    if "projects" in keys:
        return "whole"
    if keys <= set(EvmonConfig.model_fields):
        return "top-level fragment"
    if keys <= set(Project.model_fields):
        return "project fragment"
    top, project = sorted(EvmonConfig.model_fields), sorted(Project.model_fields)
    raise AssertionError(
        f"{block.where}: keys {sorted(keys)} are neither projects.yaml's top-level sections ({top}) nor "
        f"a project's keys ({project}); rewrite the example, or mark a file that is not projects.yaml "
        "with <!-- not projects.yaml: WHAT --> on the line before it"
    )


def as_projects_yaml(block: Block, data: dict[str, Any], kind: str) -> str:
    if kind == "whole":
        return block.text
    config = copy.deepcopy(BASE)
    if kind == "top-level fragment":
        config.update(data)
    else:
        config["projects"][0].update(data)
    return yaml.safe_dump(config, sort_keys=False)


@pytest.mark.parametrize("block", yaml_blocks(), ids=lambda b: b.where)
def test_every_yaml_example_loads(block: Block, tmp_path: Path) -> None:
    data = yaml.load(block.text, Loader=_AnyTags)  # a SafeLoader that also reads Compose's tags
    kind = kind_of(block, data)
    if kind == "other":
        assert not (isinstance(data, dict) and "projects" in data), (
            f"{block.where}: marked {block.marker!r}, but it has projects: load it as projects.yaml"
        )
        return
    file = tmp_path / "projects.yaml"
    file.write_text(as_projects_yaml(block, data, kind))
    config = load_config(file, environ=EXAMPLE_ENV)
    if kind == "whole":
        assert [p.name for p in config.projects] == [p["name"] for p in data["projects"]]
    elif kind == "top-level fragment":
        for key in data:
            assert key in EvmonConfig.model_fields, f"{block.where}: {key}"
    else:
        assert config.projects[0].name == "example"


def test_the_examples_are_all_found() -> None:
    """Every ```yaml fence of the docs is one example above (none missed by the block parser), the README
    holds a whole projects.yaml, and every kind of block is there at least once."""
    fences = sum(len(re.findall(r"^ *```ya?ml\b", f.read_text(), flags=re.MULTILINE)) for f in [README, *PAGES])
    blocks = yaml_blocks()
    assert len(blocks) == fences
    kinds = {b.where: kind_of(b, yaml.load(b.text, Loader=_AnyTags)) for b in blocks}
    assert any(kind == "whole" and where.startswith("README.md") for where, kind in kinds.items())
    assert set(kinds.values()) == {"whole", "top-level fragment", "project fragment", "other"}, kinds


def test_the_readme_fits_on_a_screen_or_two() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move the detail to a page of docs/"


def prose(file: Path) -> list[str]:
    """The lines of a Markdown file outside its code blocks."""
    code = {n for block in fenced_blocks(file) for n in range(block.line, block.end + 1)}
    return [line for n, line in enumerate(file.read_text().splitlines(), 1) if n not in code]


def linked(file: Path) -> list[tuple[Path, str]]:
    """The relative links of a Markdown file (outside code blocks): (the file they name, the anchor)."""
    out = []
    for match in LINK.finditer("\n".join(prose(file))):
        target = match["target"]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        out.append(((file.parent / path).resolve() if path else file, anchor))
    return out


def test_the_readme_links_every_docs_page() -> None:
    pages = {path for path, _ in linked(README) if path.parent == REPO / "docs" and path.suffix == ".md"}
    assert WRITTEN_ELSEWHERE in pages, "the README's table must link docs/architecture.md"
    assert set(PAGES) <= pages, f"pages the README does not link: {sorted(p.name for p in set(PAGES) - pages)}"
    missing = {p for p in pages if not p.exists()} - {WRITTEN_ELSEWHERE}
    assert not missing, f"the README links pages that do not exist: {sorted(p.name for p in missing)}"


def anchors(file: Path) -> set[str]:
    """The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces to hyphens."""
    seen: dict[str, int] = {}
    out = set()
    for line in prose(file):
        heading = re.match(r"^#{1,6} (.+)$", line)
        if heading is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading[1].strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f"{slug}-{count}")
    return out


@pytest.mark.parametrize("file", [README, *PAGES], ids=lambda f: str(f.relative_to(REPO)))
def test_every_link_leads_somewhere(file: Path) -> None:
    """Every relative link names a file of the repository, and its anchor a heading there (the one page
    written elsewhere may not exist yet)."""
    broken = []
    for target, anchor in linked(file):
        if target == WRITTEN_ELSEWHERE and not target.exists():
            continue
        if not target.exists():
            broken.append(f"{target.relative_to(REPO)} does not exist")
        elif anchor and anchor not in anchors(target):
            broken.append(f"{target.relative_to(REPO)} has no heading #{anchor}")
    assert not broken, f"{file.relative_to(REPO)}: " + "; ".join(broken)


def test_the_picture_is_self_contained() -> None:
    """docs/architecture.svg draws with nothing from outside: no script, no external font, image or link."""
    svg = (REPO / "docs" / "architecture.svg").read_text()
    assert svg.lstrip().startswith("<svg") and "architecture.svg" in README.read_text()
    assert not re.search(r"<script|@import|@font-face|<image|href=", svg, flags=re.IGNORECASE)
    assert re.findall(r"https?://[^\"' ]+", svg) == ["http://www.w3.org/2000/svg"]
