"""grafana/dashboards/*.json are generated from evmon.grafana (grafana/*.py): the committed files are what
the generator writes, `evmon grafana-dashboards --check` names a hand-edited file and exits 1, a run
without --check rewrites it, and the uids, titles and panel ids stay what alert rules and links use."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evmon.grafana.frame import board
from evmon.grafana.generate import DASHBOARDS, check, render_all
from evmon.grafana.panels import table_panel
from tests.conftest import REPO
from tests.grafana.provisioned import DASHBOARDS as COMMITTED
from tests.grafana.provisioned import alert_rules, all_panels

EVMON = str(Path(sys.executable).with_name("evmon"))
FIX = "(run: evmon grafana-dashboards)"
OK = "grafana/dashboards: OK, 10 dashboards as the generator writes them\n"

# What Grafana URLs, the dashboards' links and the alert rules (dashboardUid, panelId) rely on
PINNED = {
    "overview.json": ("evmon-overview", "evmon / Overview", list(range(1, 12))),
    "data_quality.json": ("evmon-data-quality", "evmon / Data quality", list(range(1, 11))),
    "feature_drift.json": ("evmon-feature-drift", "evmon / Feature drift", list(range(1, 5))),
    "model_quality.json": ("evmon-model-quality", "evmon / Model quality", list(range(1, 15))),
    "fairness.json": ("evmon-fairness", "evmon / Fairness", [1, 2, 3, 4, 5, 6]),
    "outliers.json": ("evmon-outliers", "evmon / Outliers", [1, 2, 3, 4]),
    "explanations.json": ("evmon-explanations", "evmon / Explanations", [1, 2, 3, 4]),
    "service_health.json": ("evmon-service-health", "evmon / Service health", list(range(1, 11))),
    "service_prometheus.json": ("evmon-service-prometheus", "evmon / Service (Prometheus)", list(range(1, 16))),
    "online.json": ("evmon-online", "evmon / Online", list(range(1, 13))),
}


def evmon(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EVMON, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture()
def checkout(tmp_path: Path) -> Path:
    """A folder holding a copy of the committed grafana/dashboards, as in the root of a checkout."""
    shutil.copytree(COMMITTED, tmp_path / "grafana" / "dashboards")
    return tmp_path


def edit_sql(path: Path) -> None:
    """A hand edit in Grafana's JSON: one panel's SQL changed."""
    dashboard = json.loads(path.read_text())
    dashboard["panels"][0]["targets"][0]["rawSql"] += "LIMIT 10\n"
    path.write_text(json.dumps(dashboard, indent=2) + "\n")


def test_the_committed_dashboards_are_what_the_generator_writes() -> None:
    rendered = render_all()
    assert sorted(rendered) == sorted(p.name for p in COMMITTED.glob("*.json"))
    for name, text in rendered.items():
        assert (COMMITTED / name).read_text(encoding="utf-8") == text, f"{name}: run evmon grafana-dashboards"
    assert check(COMMITTED) == []


def test_check_names_exactly_the_edited_file_and_exits_1(checkout: Path) -> None:
    edit_sql(checkout / "grafana" / "dashboards" / "data_quality.json")
    done = evmon("grafana-dashboards", "--check", cwd=checkout)
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        f"grafana/dashboards/data_quality.json: differs from the generator {FIX}\n",
        "",
    )


def test_without_check_it_rewrites_the_edited_file_and_the_next_check_passes(checkout: Path) -> None:
    folder = checkout / "grafana" / "dashboards"
    edit_sql(folder / "data_quality.json")
    done = evmon("grafana-dashboards", cwd=checkout)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"wrote grafana/dashboards/{name}" for name in DASHBOARDS]
    assert (folder / "data_quality.json").read_bytes() == (COMMITTED / "data_quality.json").read_bytes()
    again = evmon("grafana-dashboards", "--check", cwd=checkout)
    assert (again.returncode, again.stdout) == (0, OK)


def test_check_names_a_missing_and_a_foreign_file_in_another_folder(checkout: Path) -> None:
    folder = checkout / "grafana" / "dashboards"
    (folder / "overview.json").unlink()
    (folder / "hand_made.json").write_text("{}\n")
    done = evmon("grafana-dashboards", "--check", "--dir", str(folder), cwd=REPO)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{folder}/overview.json: missing (run: evmon grafana-dashboards --dir {folder})",
        f"{folder}/hand_made.json: not written by the generator (delete it, or add its module to grafana/generate.py)",
    ]


def test_outside_a_checkout_it_asks_for_dir(tmp_path: Path) -> None:
    done = evmon("grafana-dashboards", cwd=tmp_path)
    assert done.returncode == 2
    assert "no grafana/dashboards here: run it in the root of an evmon checkout, or pass --dir" in done.stderr
    assert not (tmp_path / "grafana").exists()


def test_an_unwritable_folder_is_one_error_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    done = evmon("grafana-dashboards", "--dir", str(blocker / "dashboards"), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith(f"Error: cannot write the dashboards into {blocker / 'dashboards'}: ")
    assert len(done.stderr.splitlines()) == 1


def test_uids_titles_and_panel_ids_are_unique_and_stable() -> None:
    first = render_all()
    assert render_all() == first, "the generator writes the same text on every run"
    rendered = {name: json.loads(text) for name, text in first.items()}
    found = {name: (d["uid"], d["title"], [p["id"] for p in all_panels(d)]) for name, d in rendered.items()}
    assert found == PINNED
    assert len({uid for uid, _, _ in found.values()}) == len(found)
    assert len({title for _, title, _ in found.values()}) == len(found)
    for name, (_, _, ids) in found.items():
        assert len(set(ids)) == len(ids), name
    panels_of = {uid: ids for uid, _, ids in found.values()}
    for rule in alert_rules():
        assert rule["panelId"] in panels_of[rule["dashboardUid"]], rule["uid"]


@pytest.mark.parametrize("grid", [[(8, 12, 12)], [(8, 12, 8), (8, 4)], [(8, 24), (8, 24)]])
def test_a_grid_that_the_panels_do_not_fill_is_refused(grid: list[tuple[int, ...]]) -> None:
    """board() lays the panels out by its grid: each row's widths fill the 24 columns, a cell per panel."""
    panels = [table_panel(f"Table {i}", "SELECT 1", []) for i in range(3)]
    with pytest.raises(ValueError, match="3 panels in a grid of"):
        board("evmon-test", "evmon / Test", "A test.", [], grid, panels)
