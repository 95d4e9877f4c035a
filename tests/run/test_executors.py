"""evmon.run.executors.registry: the executor of a batch, chosen once from `executor:` (or --executor)."""

from __future__ import annotations

from pathlib import Path

from evmon.config.loader import load_config
from evmon.config.sections import ExecutorSettings, TlsFiles, executor_from_option
from evmon.errors import ConfigError
from evmon.run.batch import DayTask
from evmon.run.executors.dask import DaskExecutor
from evmon.run.executors.local import LocalExecutor
from evmon.run.executors.registry import EXECUTORS, executor_for
from evmon.run.many import run_many
from evmon.storage.files import FilesWorkspace
from evmon.storage.runlog import RunLog
from tests.conftest import DEMO_END, DEMO_TODAY


def test_every_executor_projects_yaml_accepts_has_a_module_and_no_other() -> None:
    accepted = set(ExecutorSettings.model_fields["type"].annotation.__args__)  # type: ignore[union-attr]
    assert set(EXECUTORS) == accepted


def test_local_by_default_with_the_workers_asked_for() -> None:
    executor = executor_for(ExecutorSettings(), workers=3)
    assert type(executor) is LocalExecutor and executor.workers == 3


def test_a_dask_address_chooses_the_cluster_without_connecting_yet() -> None:
    settings = executor_from_option("dask://127.0.0.1:1")  # nothing listens there: connecting is run's business
    executor = executor_for(settings, workers=2)
    assert type(executor) is DaskExecutor and executor.settings.address == "tcp://127.0.0.1:1"


def _load(tmp_path: Path, executor: str) -> str:
    """The one error of a projects.yaml with this `executor:` section (its file named), or '' if it loads."""
    path = tmp_path / "projects.yaml"
    project = (
        "- {name: p, source: {path: d/*.parquet, timestamp_column: ts}, reference: {path: r.parquet}, "
        "columns: {numerical: [x]}, presets: {data_drift: true}}"
    )
    path.write_text(f"projects:\n  {project}\nexecutor: {executor}\n")
    try:
        load_config(path)
    except ConfigError as exc:
        return str(exc).replace(str(path), "FILE")
    return ""


def test_the_day_limit_and_tls_settings_are_validated_with_one_line_each(tmp_path: Path) -> None:
    assert _load(tmp_path, "{day_timeout_s: 60}") == ""
    assert _load(tmp_path, "{day_timeout_s: 0}") == (
        "FILE: executor.day_timeout_s: Input should be greater than 0 (got 0)"
    )
    assert _load(tmp_path, "{day_timeout_s: 100000}") == (
        "FILE: executor.day_timeout_s: Input should be less than or equal to 86400 (got 100000)"
    )
    tls = "{ca_file: certs/ca.pem, cert_file: certs/me.pem}"
    assert _load(tmp_path, f"{{type: dask, address: 'tls://h:8786', tls: {tls}}}") == ""
    assert _load(tmp_path, f"{{type: dask, address: 'tcp://h:8786', tls: {tls}}}") == (
        "FILE: executor.address: tls is set, so the scheduler is reached over TLS: expected tls://HOST:PORT "
        "(got 'tcp://h:8786')"
    )
    assert _load(tmp_path, "{tls: {ca_file: certs/ca.pem}}") == "FILE: executor.tls.cert_file: required key is missing"
    assert _load(tmp_path, "{tls: {ca_fle: x, cert_file: y}}") == (
        "FILE: executor.tls.ca_fle: unknown key 'ca_fle'; did you mean 'ca_file'? expected one of: "
        "ca_file, cert_file, key_file"
    )


def test_the_executor_option_changes_type_and_address_and_keeps_the_rest() -> None:
    tls = TlsFiles(ca_file="ca.pem", cert_file="me.pem")
    configured = ExecutorSettings(type="dask", address="tls://h:8786", tls=tls, day_timeout_s=60)
    local = configured.overridden_by(executor_from_option("local"))
    assert (local.type, local.day_timeout_s) == ("local", 60)
    other = configured.overridden_by(executor_from_option("tls://other:8786"))
    assert (other.type, other.address, other.tls, other.day_timeout_s) == ("dask", "tls://other:8786", tls, 60)
    assert configured.overridden_by(None) is configured
    assert ExecutorSettings().day_timeout_s == 1800  # 30 minutes unless projects.yaml says otherwise


def test_tls_paths_are_relative_to_projects_yaml_and_the_environment_wins(tmp_path: Path) -> None:
    settings = ExecutorSettings(tls=TlsFiles(ca_file="certs/ca.pem", cert_file="/etc/me.pem"))
    assert settings.tls_paths(tmp_path, {}) == {
        "ca_file": (tmp_path / "certs" / "ca.pem", "executor.tls.ca_file"),
        "cert_file": (Path("/etc/me.pem"), "executor.tls.cert_file"),
    }
    env = {"EVMON_EXECUTOR_TLS_CERT_FILE": "/run/secrets/me.pem", "EVMON_EXECUTOR_TLS_KEY_FILE": "/run/secrets/k.pem"}
    assert settings.tls_paths(tmp_path, env) == {
        "ca_file": (tmp_path / "certs" / "ca.pem", "executor.tls.ca_file"),
        "cert_file": (Path("/run/secrets/me.pem"), "EVMON_EXECUTOR_TLS_CERT_FILE"),
        "key_file": (Path("/run/secrets/k.pem"), "EVMON_EXECUTOR_TLS_KEY_FILE"),
    }


def test_a_day_whose_lock_cannot_be_taken_fails_alone(demo_config_path: Path, workspace_path: Path) -> None:
    """A lock file that cannot be created (here: a file where the project's lock folder goes; a full or
    read-only disk alike) fails that project's days with one line each; the other project's day runs."""
    config = load_config(demo_config_path)
    workspace = FilesWorkspace(workspace_path)
    workspace.prepare()
    (workspace.evmon_dir / "locks").mkdir(parents=True)
    (workspace.evmon_dir / "locks" / "taxi_duration").write_text("not a folder")
    day = DEMO_END
    tasks = [DayTask(config.project("taxi_duration"), day), DayTask(config.project("credit_scorecard"), day)]
    taxi, credit = run_many(config, tasks, workspace=workspace, workers=2, today=DEMO_TODAY)
    assert taxi.outcome == "failed" and taxi.error is not None
    assert taxi.error.startswith(f"cannot take the lock of taxi_duration {day} in ")
    assert credit.outcome == "ok"
    logged = {(r.project, r.status) for r in RunLog(workspace.evmon_dir).records()}
    assert logged == {("taxi_duration", "failed"), ("credit_scorecard", "ok")}
