"""The app's writes check their permission themselves; the views turn read-only when writes are off.

The functions behind the buttons (streamlit_app.writes.rerun and save) are called directly
with a refusing access, and the app is run by AppTest on another bind address, with
--allow-writes (its environment variable), with `app.writes: false`, and with a login: AppTest
sets st.user (`is_logged_in` present means Streamlit found an [auth] section, as a real server
does), so the sign-in, a listed and an unlisted user are tested here; the real OpenID Connect
round trip is not (no provider can run here).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evmon.app.writes import rerun, save
from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.errors import WriteRefusedError
from evmon.run.whatif import WhatIfResult, WhatIfSpec, run_whatif
from evmon.services.access import WriteAccess, decide_write_access
from evmon.snapshot.ids import project_id
from evmon.storage.files import FilesWorkspace
from evmon.storage.runlog import RunLog
from tests.app.conftest import TAXI
from tests.conftest import DEMO_END, DEMO_TODAY

Open = Callable[..., Any]
ANA, BOB = "ana@example.org", "bob@example.org"
WRITERS = f"  writers: [{ANA}]\n"


@pytest.fixture(scope="module")
def config(demo_dir: Path) -> EvmonConfig:
    return load_config(demo_dir / "projects.yaml")


@pytest.fixture(scope="module")
def whatif(config: EvmonConfig) -> WhatIfResult:
    """A what-if of the demo's last taxi day (computed, not saved)."""
    return run_whatif(config, WhatIfSpec(TAXI, DEMO_END, DEMO_END), today=DEMO_TODAY)


def _state(root: Path) -> tuple[dict[Any, int], int]:
    """Every taxi snapshot's mtime, and the number of run-log records."""
    workspace = FilesWorkspace(root)
    files = {f.snapshot_id: f.mtime_ns for f in workspace.list_snapshots(project_id(TAXI))}
    return files, len(RunLog(workspace.evmon_dir).records(TAXI))


def _texts(elements: Any) -> str:
    return "\n".join(str(e.value) for e in elements)


def _buttons(at: Any) -> set[str]:
    return {b.key for b in at.button}


def test_refused_writes_raise_and_write_nothing(app_env: Path, config: EvmonConfig, whatif: WhatIfResult) -> None:
    refused = decide_write_access(
        host="0.0.0.0", allow_writes=False, config_writes=None, writers=(), login_configured=False, user=None
    )
    workspace = FilesWorkspace(app_env)
    before = _state(app_env)
    with pytest.raises(
        WriteRefusedError, match=r"re-running taxi_duration 2026-03-31\.\.2026-03-31 refused: read-only"
    ):
        rerun(refused, config, config.project(TAXI), DEMO_END, DEMO_END, workspace=workspace)
    with pytest.raises(WriteRefusedError, match=r"saving the what-if taxi_duration 2026-03-31\.\.2026-03-31 refused"):
        save(refused, workspace, whatif)
    not_listed = WriteAccess(False, "read-only: bob@example.org is not in app.writers")
    with pytest.raises(WriteRefusedError, match=r"bob@example\.org is not in app\.writers"):
        save(not_listed, workspace, whatif)
    assert _state(app_env) == before


def test_allowed_writes_record_who(app_env: Path, config: EvmonConfig, whatif: WhatIfResult, open_app: Open) -> None:
    access = decide_write_access(
        host="127.0.0.1", allow_writes=False, config_writes=None, writers=(ANA,), login_configured=True, user=ANA
    )
    workspace = FilesWorkspace(app_env)
    (result,) = rerun(access, config, config.project(TAXI), DEMO_END, DEMO_END, workspace=workspace)
    assert result.outcome == "ok"
    (record,) = [r for r in RunLog(workspace.evmon_dir).records(TAXI) if r.trigger == "app"]
    assert (record.day, record.status, record.started_by) == (DEMO_END, "ok", ANA)
    file = save(access, workspace, whatif)
    metadata = workspace.read_snapshot_header(project_id(TAXI), file.snapshot_id)["metadata"]
    assert metadata["saved_by"] == ANA and metadata["evmon_kind"] == "whatif"
    listed = next(f.value for f in open_app("Days", project=TAXI).dataframe if "saved by" in f.value.columns)
    assert listed["saved by"].tolist() == [ANA]


def test_on_another_address_the_write_buttons_are_lines(
    app_env: Path, open_app: Open, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVMON_APP_HOST", "0.0.0.0")
    before = _state(app_env)
    at = open_app("Re-run days", project=TAXI)
    assert "rr_run" not in _buttons(at)
    assert _texts(at.info) == (
        "Read-only: the app listens on all network interfaces, reachable from other machines; start it with "
        "`evmon app --allow-writes` or set app.writes: true in projects.yaml to allow re-runs and saves"
    )
    at.sidebar.radio(key="view").set_value("What-if").run()
    at.date_input(key="wi_start").set_value(DEMO_END)
    at.date_input(key="wi_end").set_value(DEMO_END)
    at.button(key="wi_run").click().run()  # computing a what-if writes nothing: it stays open
    assert not at.exception and not at.error, _texts(at.error)
    assert at.get("iframe"), "the what-if's report"
    assert "wi_save" not in _buttons(at)
    assert "Read-only: the app listens on all network interfaces" in _texts(at.info)
    assert _state(app_env) == before


def test_allow_writes_opens_them_on_another_address(
    app_env: Path, open_app: Open, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVMON_APP_HOST", "0.0.0.0")
    monkeypatch.setenv("EVMON_APP_ALLOW_WRITES", "1")
    at = open_app("Re-run days", project=TAXI)
    assert "rr_run" in _buttons(at) and not at.info


def test_app_writes_false_closes_them_on_loopback(
    app_env: Path, open_app: Open, config_with_app: Callable[[str], Path]
) -> None:
    config_with_app("  writes: false\n")
    at = open_app("Re-run days", project=TAXI)
    assert "rr_run" not in _buttons(at)
    assert (
        _texts(at.info) == "Read-only: app.writes is false in projects.yaml; set it to true to allow re-runs and saves"
    )


def test_with_a_login_nobody_signed_in_sees_a_sign_in_line(
    app_env: Path, open_app: Open, config_with_app: Callable[[str], Path]
) -> None:
    config_with_app(WRITERS)
    at = open_app("Re-run days", project=TAXI, user={"is_logged_in": False})
    assert _buttons(at) == {"rr_sign_in"}
    assert _texts(at.info).startswith("Read-only until you sign in")
    at.button(key="rr_sign_in").click().run()
    assert "Cannot sign in:" in _texts(at.error)  # no Authlib nor provider here: Streamlit says why
    assert not at.exception


def test_a_signed_in_user_not_listed_is_told_so(
    app_env: Path, open_app: Open, config_with_app: Callable[[str], Path]
) -> None:
    config_with_app(WRITERS)
    at = open_app("Re-run days", project=TAXI, user={"is_logged_in": True, "email": BOB})
    assert "rr_run" not in _buttons(at)
    assert (
        _texts(at.info)
        == "Read-only: bob@example.org is not in app.writers in projects.yaml; ask the operator to add it"
    )
    assert f"Signed in as {BOB}" in _texts(at.sidebar.caption)


def test_a_listed_user_reruns_and_the_run_log_names_them(
    app_env: Path, open_app: Open, config_with_app: Callable[[str], Path]
) -> None:
    config_with_app(WRITERS)
    at = open_app("Re-run days", project=TAXI, user={"is_logged_in": True, "email": ANA})
    assert f"Signed in as {ANA}" in _texts(at.sidebar.caption)
    at.date_input(key="rr_start").set_value(DEMO_END)
    at.button(key="rr_run").click().run()
    assert f"{TAXI}: 1 days: 1 ok" in _texts(at.success), _texts(at.error)
    (record,) = [r for r in RunLog(FilesWorkspace(app_env).evmon_dir).records(TAXI) if r.trigger == "app"]
    assert (record.day, record.status, record.started_by) == (DEMO_END, "ok", ANA)
