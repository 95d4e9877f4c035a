"""prometheus/rules/online.yml (the model services' rules): promtool checks them and runs their unit tests,
every alert is shown firing and not firing, the tests can fail, and the rules ask only for documented metrics."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.prometheus.tools import RULES_DIR, documented_metrics, needs_promtool, promtool, rules_of

RULES = RULES_DIR / "rules" / "online.yml"
TESTS = RULES_DIR / "tests" / "online_test.yml"


def rules() -> list[dict[str, Any]]:
    return rules_of(RULES)


@needs_promtool
def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules())} rules found" in checked.stdout
    done = promtool("test", "rules", str(TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert (
        alerts
        == firing
        == quiet
        == {
            "EvmonOnlineLatencyHigh",
            "EvmonOnlineErrorRateHigh",
            "EvmonOnlineColumnDrift",
            "EvmonOnlineLoggingNothing",
        }
    )


def test_the_rules_ask_only_for_documented_metrics() -> None:
    used = {
        name.removesuffix("_bucket")
        for rule in rules()
        for name in re.findall(r"(?<![:\w])evmon_[a-z_]+(?![:\w.])", rule["expr"])  # not a name pattern (.+)
    }
    assert len(used) >= 5
    assert used <= documented_metrics(), used - documented_metrics()


@needs_promtool
def test_a_changed_threshold_fails_the_unit_tests(tmp_path: Path) -> None:
    """The tests can fail: with the latency threshold at 600 ms, the 100-500 ms service no longer pages."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    changed = RULES.read_text().replace("p99_5m > 0.25", "p99_5m > 0.6")
    assert changed != RULES.read_text()
    (tmp_path / "rules" / "online.yml").write_text(changed)
    shutil.copy(TESTS, tmp_path / "tests" / "online_test.yml")
    done = promtool("test", "rules", str(tmp_path / "tests" / "online_test.yml"))
    assert done.returncode == 1
    assert "alertname: EvmonOnlineLatencyHigh, time: 20m" in done.stdout + done.stderr
