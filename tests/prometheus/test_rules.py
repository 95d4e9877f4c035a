"""The shipped Prometheus config and rules: promtool checks them and runs their unit tests.

prometheus/tests/evmon_test.yml shows every alert firing and not firing; these tests run it, check
that no alert lacks either case, and that a changed rule makes it fail.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from evmon.alerting.labels import INFO_RULE, prometheus_join, tag_names
from evmon.config.loader import load_config
from tests.conftest import REPO
from tests.prometheus.tools import RULES_DIR, documented_metrics, needs_promtool, promtool, rules_of

RULES = RULES_DIR / "rules" / "evmon.yml"
TESTS = RULES_DIR / "tests" / "evmon_test.yml"


def rules() -> list[dict[str, Any]]:
    return rules_of(RULES)


@needs_promtool
def test_promtool_accepts_the_rules_and_the_scrape_config() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout
    config = promtool("check", "config", str(RULES_DIR / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr
    assert "SUCCESS: 2 rule files found" in config.stdout  # evmon.yml, online.yml
    assert "is valid prometheus config file syntax" in config.stdout


@needs_promtool
def test_the_rule_unit_tests_pass() -> None:
    done = promtool("test", "rules", str(TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert alerts == firing == quiet
    assert {
        "EvmonProjectStale",
        "EvmonRunFailed",
        "EvmonDatasetDrift",
        "EvmonModelQualityLow",
        "EvmonBridgeLagging",
        "EvmonDisparateImpactLow",
        "EvmonEqualizedOddsHigh",
        "EvmonColumnOutliers",
        "EvmonMultivariateOutliers",
    } <= alerts


def test_the_rules_ask_only_for_documented_metrics() -> None:
    documented = documented_metrics()
    used = {
        name.removesuffix("_bucket")
        for rule in rules()
        for name in re.findall(r"(?<![:\w])evmon_[a-z_]+", rule["expr"])
    }
    assert len(used) >= 10
    assert used <= documented, f"not in the Prometheus metrics table of docs/grafana-prometheus.md: {used - documented}"


@needs_promtool
def test_a_changed_threshold_fails_the_unit_tests(tmp_path: Path) -> None:
    """The tests can fail: with the stale threshold at 48 h, the project 36 h stale no longer pages."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    changed = RULES.read_text().replace(
        "project:evmon_last_success_age:hours > 36", "project:evmon_last_success_age:hours > 48"
    )
    assert changed != RULES.read_text()
    (tmp_path / "rules" / "evmon.yml").write_text(changed)
    shutil.copy(TESTS, tmp_path / "tests" / "evmon_test.yml")
    done = promtool("test", "rules", str(tmp_path / "tests" / "evmon_test.yml"))
    assert done.returncode == 1
    assert "alertname: EvmonProjectStale, time: 2h55m" in done.stdout + done.stderr


@needs_promtool
def test_the_fairness_alert_compares_with_the_projects_own_threshold(tmp_path: Path) -> None:
    """With the four-fifths rule fixed in the expression, the project whose threshold is 0.95 no longer pages."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    changed = RULES.read_text().replace("< on (project) group_left project:evmon_disparate_impact_min:max", "< 0.8")
    assert changed != RULES.read_text()
    (tmp_path / "rules" / "evmon.yml").write_text(changed)
    shutil.copy(TESTS, tmp_path / "tests" / "evmon_test.yml")
    done = promtool("test", "rules", str(tmp_path / "tests" / "evmon_test.yml"))
    assert done.returncode == 1
    assert "alertname: EvmonDisparateImpactLow, time: 2m" in done.stdout + done.stderr


def test_every_alert_about_a_project_carries_its_owner() -> None:
    """Each alert grouped by project ends with the owner join (`evmon alerting` writes its label list from
    projects.yaml's tag names), its own expression in parentheses; the others (a service, an instance) have none."""
    join = prometheus_join(tag_names(load_config(REPO / "projects.yaml")))
    alerts = [rule for rule in rules() if "alert" in rule]
    about_projects = [rule for rule in alerts if re.search(r"\bproject\b", rule["expr"])]
    assert len(about_projects) == 11
    for rule in about_projects:
        expr = " ".join(rule["expr"].split())
        assert expr.startswith("(") and expr.endswith(f") * on (project) {join}"), rule["alert"]
    for rule in alerts:
        if rule not in about_projects:
            assert INFO_RULE not in rule["expr"], rule["alert"]
