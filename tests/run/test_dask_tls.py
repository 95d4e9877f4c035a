"""A Dask cluster that speaks TLS: a real `dask scheduler` and `dask worker` on 127.0.0.1, started with
certificates made here; evmon reaches it with the certificates of projects.yaml or the environment, and
says in one line what is missing or refused."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from evmon.config.sections import ExecutorSettings
from evmon.run.executors.dask import ExecutorError, connect
from tests.conftest import DEMO_END, DEMO_TODAY, REPO, write_config
from tests.dask_cluster import Cluster, dask_cluster
from tests.tls_certs import TlsFiles, make_tls_files

pytestmark = pytest.mark.xdist_group("dask")

EVMON = str(Path(sys.executable).with_name("evmon"))
ENV_NAMES = ("EVMON_EXECUTOR_TLS_CA_FILE", "EVMON_EXECUTOR_TLS_CERT_FILE", "EVMON_EXECUTOR_TLS_KEY_FILE")


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("dask-tls")
    with dask_cluster(folder / "cluster", workers=1, tls=make_tls_files(folder / "certs")) as running:
        yield running


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment without any TLS setting of evmon's or distributed's, nor EVMON_EXECUTOR."""
    for name in [*ENV_NAMES, "EVMON_EXECUTOR"]:
        monkeypatch.delenv(name, raising=False)
    return {k: v for k, v in os.environ.items() if not k.startswith("DASK_DISTRIBUTED__COMM__")}


def evmon(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EVMON, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_days_on_a_tls_cluster_with_the_certificates_of_projects_yaml(
    tls_cluster: Cluster, demo_dir: Path, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    """Paths relative to projects.yaml's folder, whatever the working directory."""
    assert tls_cluster.tls is not None and tls_cluster.address.startswith("tls://")
    home = tmp_path / "home"
    shutil.copytree(tls_cluster.tls.ca_file.parent, home / "certs")
    tls = {
        "ca_file": "certs/evmon-test-ca.pem",
        "cert_file": "certs/evmon-test.pem",
        "key_file": "certs/evmon-test-key.pem",
    }
    executor = {"type": "dask", "address": tls_cluster.address, "tls": tls}
    config = write_config(home / "projects.yaml", demo_dir, {"executor": executor}, taxi_duration={})
    env = {**clean_env, "EVMON_WORKSPACE": str(tmp_path / "workspace")}
    today = ["--today", str(DEMO_TODAY)]  # the day kept full: no compaction line
    done = evmon(["-c", str(config), "run", "taxi_duration", "--day", str(DEMO_END), *today], env, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert re.fullmatch(rf"taxi_duration {DEMO_END} ok: \d+ rows, with labels, \d+\.\ds\n", done.stdout)


def test_the_certificates_from_the_environment_and_the_address_from_executor(
    tls_cluster: Cluster, demo_dir: Path, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    """projects.yaml says nothing of Dask: --executor tls://... and EVMON_EXECUTOR_TLS_* are enough."""
    assert tls_cluster.tls is not None
    config = write_config(tmp_path / "projects.yaml", demo_dir, taxi_duration={})
    files = tls_cluster.tls
    env = {**clean_env, "EVMON_WORKSPACE": str(tmp_path / "workspace")}
    env.update(zip(ENV_NAMES, (str(files.ca_file), str(files.cert_file), str(files.key_file)), strict=True))
    start = DEMO_END - timedelta(days=1)
    args = ["backfill", "taxi_duration", "-c", str(config), "--start", str(start), "--end", str(DEMO_END)]
    done = evmon([*args, "--today", str(DEMO_TODAY), "--executor", tls_cluster.address], env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [line.split()[:4] for line in done.stderr.splitlines()] == [  # a line per day, in either order
        [f"[{i}/2]", "taxi_duration", day, "ok:"] for i, day in enumerate(sorted_days(done.stderr), start=1)
    ]
    assert done.stdout == "taxi_duration: 2 days: 2 ok, 0 already there, 0 skipped (no rows), 0 failed\n"


def test_tls_without_certificates_is_one_line_at_once(
    tls_cluster: Cluster, demo_dir: Path, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    """Before: distributed's 79-line `TypeError: TLS expects a ssl_context` traceback, after a 20 s wait."""
    expected = (
        f"the Dask scheduler at {tls_cluster.address} speaks TLS, and no certificates are set: give executor.tls "
        "{ca_file, cert_file, key_file} in projects.yaml, or EVMON_EXECUTOR_TLS_CA_FILE, EVMON_EXECUTOR_TLS_CERT_FILE, "
        "EVMON_EXECUTOR_TLS_KEY_FILE"
    )
    clock = time.monotonic()
    with pytest.raises(ExecutorError) as refused:
        connect(ExecutorSettings(type="dask", address=tls_cluster.address))
    assert time.monotonic() - clock < 2
    assert str(refused.value) == expected

    config = write_config(tmp_path / "projects.yaml", demo_dir, taxi_duration={})
    env = {**clean_env, "EVMON_WORKSPACE": str(tmp_path / "workspace")}
    args = ["run", "taxi_duration", "-c", str(config), "--day", str(DEMO_END), "--executor", tls_cluster.address]
    done = evmon(args, env, cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"Error: {expected}\n")


def test_a_certificate_of_another_ca_is_refused_in_one_line(
    tls_cluster: Cluster, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    """Either side refusing: the client does not trust the scheduler, or the scheduler the client."""
    assert tls_cluster.tls is not None
    ours, intruder = tls_cluster.tls, make_tls_files(tmp_path / "other", "intruder")
    for ca, cert in ((intruder.ca_file, intruder.cert_file), (ours.ca_file, intruder.cert_file)):
        key = intruder.key_file
        tls = {"ca_file": str(ca), "cert_file": str(cert), "key_file": str(key)}
        settings = ExecutorSettings(type="dask", address=tls_cluster.address, tls=tls, connect_timeout_s=10)
        with pytest.raises(ExecutorError) as refused:
            connect(settings)
        message = str(refused.value)
        assert "\n" not in message
        assert re.fullmatch(
            rf"the Dask scheduler at {re.escape(tls_cluster.address)} and this client do not trust each other's TLS "
            r"certificates \(.+\); expected certificates signed by the CA the scheduler was started with "
            r"\(--tls-ca-file\)",
            message,
        ), message


def test_a_missing_or_unusable_certificate_file_is_named(
    tls_cluster: Cluster, tmp_path: Path, clean_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tls_cluster.tls is not None
    files = tls_cluster.tls
    address = tls_cluster.address
    tls = {"ca_file": "certs/ca.pem", "cert_file": str(files.cert_file), "key_file": str(files.key_file)}
    settings = ExecutorSettings(type="dask", address=address, tls=tls)
    with pytest.raises(ExecutorError) as missing:
        connect(settings, tmp_path)
    assert str(missing.value) == (
        f"executor.tls.ca_file: {tmp_path}/certs/ca.pem is not a file; expected the CA certificate (PEM)"
    )

    monkeypatch.setenv("EVMON_EXECUTOR_TLS_CA_FILE", str(files.ca_file))  # the environment wins over the file
    monkeypatch.setenv("EVMON_EXECUTOR_TLS_KEY_FILE", str(tmp_path / "nope.pem"))
    with pytest.raises(ExecutorError) as missing:
        connect(settings, tmp_path)
    assert str(missing.value) == (
        f"EVMON_EXECUTOR_TLS_KEY_FILE: {tmp_path}/nope.pem is not a file; expected the client certificate's key (PEM)"
    )

    (tmp_path / "nope.pem").write_text("not a key\n")
    with pytest.raises(ExecutorError) as unusable:
        connect(settings, tmp_path)
    assert str(unusable.value).startswith(
        f"cannot use the TLS certificates (EVMON_EXECUTOR_TLS_CA_FILE {files.ca_file}, executor.tls.cert_file "
        f"{files.cert_file}, EVMON_EXECUTOR_TLS_KEY_FILE {tmp_path}/nope.pem): "
    )

    monkeypatch.delenv("EVMON_EXECUTOR_TLS_KEY_FILE")
    only_ca = ExecutorSettings(type="dask", address=address)
    with pytest.raises(ExecutorError) as half:
        connect(only_ca)
    assert str(half.value) == (
        f"the Dask scheduler at {address} speaks TLS, and cert_file (the client certificate) is not set: "
        "give executor.tls.cert_file in projects.yaml, or EVMON_EXECUTOR_TLS_CERT_FILE"
    )


def test_certificates_for_a_tcp_address_are_refused_not_ignored(tmp_path: Path, clean_env: dict[str, str]) -> None:
    """projects.yaml's tls with `--executor dask://HOST:PORT` (tcp): no silent fall back to plain TCP."""
    files: TlsFiles = make_tls_files(tmp_path / "certs")
    yaml_tls = {"ca_file": str(files.ca_file), "cert_file": str(files.cert_file)}
    chosen = ExecutorSettings(type="local", tls=yaml_tls).overridden_by(
        ExecutorSettings(type="dask", address="tcp://127.0.0.1:9")
    )
    with pytest.raises(ExecutorError) as refused:
        connect(chosen)
    assert str(refused.value) == (
        "TLS certificates are set (executor.tls.ca_file, executor.tls.cert_file), but the Dask scheduler address "
        "tcp://127.0.0.1:9 is not tls://; expected tls://HOST:PORT"
    )


def _documented_dask_commands() -> list[tuple[str, str]]:
    """(where, command) of every `dask scheduler`/`dask worker` command with arguments in README.md,
    docs/*.md (code blocks, their `\\` continuations joined, and inline code) and docker-compose.yml."""
    found: list[tuple[str, str]] = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = page.read_text().replace("\\\n", " ")
        for command in re.findall(r"^\s*(dask (?:scheduler|worker) .+)$", text, re.M):
            found.append((page.name, command))
        for command in re.findall(r"`(dask (?:scheduler|worker) [^`]+)`", text):
            found.append((page.name, " ".join(command.split())))
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    for name in ("dask-scheduler", "dask-worker"):
        service = services[name]
        found.append((f"docker-compose.yml {name}", " ".join([*service["entrypoint"], *service["command"]])))
    return found


def test_every_documented_dask_command_serves_its_http_pages_on_loopback_only() -> None:
    """The scheduler's and the workers' HTTP servers start even with --no-dashboard, on every interface
    unless told otherwise: each command the docs give binds them to 127.0.0.1."""
    commands = _documented_dask_commands()
    where = {w.split()[0] for w, _ in commands}
    assert {"scaling.md", "docker-compose.yml"} <= where, commands
    assert any("scheduler" in c for _, c in commands) and any("worker" in c for _, c in commands)
    for place, command in commands:
        assert re.search(r"--dashboard-address[ =]127\.0\.0\.1:\d+", command), (place, command)


def sorted_days(progress: str) -> list[str]:
    """The days of a backfill's progress lines, in the order they finished."""
    return [line.split()[2] for line in progress.splitlines()]
