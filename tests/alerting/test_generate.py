"""`evmon alerting`: the routing files written from projects.yaml, checked against it, and its mistakes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from evmon.alerting import generate
from evmon.alerting.labels import rewrite_grafana_rules
from evmon.cli import cli
from evmon.errors import EvmonError
from tests.conftest import REPO


def checkout(tmp_path: Path) -> Path:
    """A copy of the repository's generated and hand-written alerting files, and its projects.yaml."""
    for path in generate.FILES:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / path, tmp_path / path)
    shutil.copy(REPO / "projects.yaml", tmp_path / "projects.yaml")
    return tmp_path


def invoke(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-c", str(root / "projects.yaml"), "alerting", "--root", str(root), *args])
    return result.exit_code, result.output


def test_the_repository_files_are_as_generated(tmp_path: Path) -> None:
    code, output = invoke(checkout(tmp_path), "--check")
    assert code == 0 and "OK, 6 alerting files" in output, output


def test_a_new_tag_and_team_change_the_files_and_check_names_them(tmp_path: Path) -> None:
    root = checkout(tmp_path)
    raw = yaml.safe_load((root / "projects.yaml").read_text())
    raw["teams"]["mobility"] = {"slack_env": "MOBILITY_SLACK_URL"}
    raw["projects"][1] |= {"owner": "mobility", "tags": {"region": "us"}}
    (root / "projects.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))

    code, output = invoke(root, "--check")
    assert code == 1
    assert sorted(line.split(":")[0] for line in output.splitlines()) == sorted(str(root / p) for p in generate.FILES)
    assert "differs from the generator" in output and "(run: evmon alerting)" in output

    code, output = invoke(root)
    assert code == 0 and output.count("wrote ") == 6, output
    assert invoke(root, "--check")[0] == 0
    grafana_rules = (root / generate.GRAFANA_RULES).read_text()
    rules = len(yaml.safe_load(grafana_rules)["groups"][0]["rules"])
    assert rules == 11  # the hand-written rules, explanations' attribution drift the 11th
    assert grafana_rules.count("coalesce(o.tags ->> 'region', '') AS \"region\"") == rules  # every rule
    assert "group_left (team, domain, region, tier)" in (root / generate.PROMETHEUS_RULES).read_text()
    assert 'team="mobility"' in (root / generate.ALERTMANAGER).read_text()
    assert "MOBILITY_SLACK_URL" in (root / generate.GRAFANA_SCRIPT).read_text()
    # only the label lines of the hand-written rules changed
    before = (REPO / generate.GRAFANA_RULES).read_text().splitlines()
    after = grafana_rules.splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == rules and all(b.strip().startswith("SELECT r.*, coalesce(o.owner") for _, b in changed)
    code, output = invoke(root)
    assert code == 0 and "already as the generator writes them" in output


def test_a_rules_file_without_the_label_line_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EvmonError, match=re.escape("no line `SELECT r.*, coalesce(o.owner, '') AS team...`")):
        rewrite_grafana_rules("groups: []\n", ["tier"], "rules.yaml")
    root = checkout(tmp_path)
    (root / generate.PROMETHEUS_RULES).write_text("groups: []\n")
    code, output = invoke(root, "--check")
    [line] = output.splitlines()
    assert code == 1 and line.startswith(f"Error: {root / generate.PROMETHEUS_RULES}: expected one `max by (project")
