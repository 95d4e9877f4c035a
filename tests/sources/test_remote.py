"""Sources on object storage: the demo's taxi_duration project read from s3:// URLs.

Against a real S3 API (moto's server, tests/s3.py, with authentication on) holding a copy of
the demo data: the same rows and the same snapshots as the local files, a bad remote file
failing only its own day, `evmon validate` through the store, and one clear line for a missing
package, wrong credentials or a wrong endpoint. The only S3 the tests reach is that server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from evmon.cli import cli
from evmon.compare.values import snapshot_values
from evmon.config.loader import load_config
from evmon.config.model import EvmonConfig
from evmon.days import day_window_utc
from evmon.errors import ConfigError, SourceError
from evmon.run.day import run_day
from evmon.snapshot.ids import daily_snapshot_id, project_id
from evmon.sources.read import read_reference, read_window
from evmon.storage.files import FilesWorkspace
from tests.conftest import DEMO_TODAY, REPO
from tests.s3 import S3Server, s3_server

DEMO = "evmon-demo"  # a copy of the demo's taxi_duration files, read-only
SCRATCH = "evmon-tests"  # each test writes under its own prefix
DAYS = [date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12)]
TAXI = "taxi_duration"
TZ = "America/New_York"
SOURCE_URL = f"s3://{DEMO}/taxi_duration/daily/*.parquet"
REFERENCE_URL = f"s3://{DEMO}/taxi_duration/reference.parquet"


@pytest.fixture(scope="module")
def s3(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A moto S3 server holding the taxi project's daily files and reference; stopped after the module."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with s3_server(log, [DEMO, SCRATCH]) as server:
        data = demo_dir / "demo_data" / TAXI
        files: dict[str, Path | bytes] = {f"{TAXI}/daily/{p.name}": p for p in (data / "daily").glob("*.parquet")}
        files[f"{TAXI}/reference.parquet"] = data / "reference.parquet"
        server.upload(DEMO, files)
        yield server


@pytest.fixture()
def s3_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The server's credentials and endpoint in the environment, nothing else of AWS's."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    return s3


def taxi_config(tmp_path: Path, demo_dir: Path, source: str, reference: str, **changes: Any) -> Path:
    """A projects.yaml holding the demo's taxi_duration project, its files at `source` and `reference`."""
    raw = yaml.safe_load((demo_dir / "projects.yaml").read_text())
    taxi = next(p for p in raw["projects"] if p["name"] == TAXI)
    taxi["source"]["path"] = source
    taxi["reference"] = {"path": reference}
    if "model" in taxi:  # the model file stays local, beside the demo's projects.yaml
        taxi["model"]["path"] = str(demo_dir / taxi["model"]["path"])
    taxi.update(changes)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "projects.yaml"
    path.write_text(yaml.safe_dump({"workspace": str(tmp_path / "workspace"), "projects": [taxi]}, sort_keys=False))
    return path


def window(config: EvmonConfig, day: date) -> pd.DataFrame:
    return read_window(config, config.project(TAXI), *day_window_utc(day, TZ))


def validate(path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    return result.exit_code, result.stdout, result.stderr


def test_a_window_read_from_s3_is_the_local_window(s3_env: S3Server, demo_dir: Path, tmp_path: Path) -> None:
    remote = load_config(taxi_config(tmp_path, demo_dir, SOURCE_URL, REFERENCE_URL))
    local = load_config(demo_dir / "projects.yaml")
    for day in DAYS:
        expected = window(local, day)
        assert len(expected) > 100
        pd.testing.assert_frame_equal(window(remote, day), expected)
    pd.testing.assert_frame_equal(
        read_reference(remote, remote.project(TAXI)), read_reference(local, local.project(TAXI))
    )


def test_days_run_on_s3_data_give_the_local_snapshots(s3_env: S3Server, demo_dir: Path, tmp_path: Path) -> None:
    remote = load_config(taxi_config(tmp_path, demo_dir, SOURCE_URL, REFERENCE_URL))
    local = load_config(demo_dir / "projects.yaml")
    values = {}
    for name, config in (("remote", remote), ("local", local)):
        workspace = FilesWorkspace(tmp_path / f"ws-{name}")
        for day in DAYS[:2]:
            result = run_day(config, config.project(TAXI), day, workspace=workspace, today=DEMO_TODAY)
            assert result.outcome == "ok", result.line()
            snapshot = workspace.read_snapshot(project_id(TAXI), daily_snapshot_id(TAXI, day))
            values[name, day] = snapshot_values(snapshot)
    for day in DAYS[:2]:
        assert values["remote", day].dataset  # metric values, not an empty comparison
        assert values["remote", day] == values["local", day]


def test_a_remote_file_lacking_a_column_fails_only_its_day(s3_env: S3Server, demo_dir: Path, tmp_path: Path) -> None:
    # as locally (tests/sources/test_read.py): its neighbours' days read all their rows
    daily = demo_dir / "demo_data" / TAXI / "daily"
    bad_day = DAYS[1]
    broken = tmp_path / "broken.parquet"
    pd.read_parquet(daily / f"{bad_day}.parquet").drop(columns=["fare_amount"]).to_parquet(broken, index=False)
    files: dict[str, Path | bytes] = {f"one-bad/{day}.parquet": daily / f"{day}.parquet" for day in DAYS}
    files[f"one-bad/{bad_day}.parquet"] = broken
    s3_env.upload(SCRATCH, files)
    remote = load_config(taxi_config(tmp_path, demo_dir, f"s3://{SCRATCH}/one-bad/*.parquet", REFERENCE_URL))
    local = load_config(demo_dir / "projects.yaml")

    for day in (DAYS[0], DAYS[2]):
        pd.testing.assert_frame_equal(window(remote, day), window(local, day))
    result = run_day(remote, remote.project(TAXI), bad_day, workspace=FilesWorkspace(tmp_path / "ws"), today=DEMO_TODAY)

    assert (result.outcome, result.error) == (
        "failed",
        f"taxi_duration: column 'fare_amount' (columns.numerical) is missing from "
        f"s3://{SCRATCH}/one-bad/{bad_day}.parquet; it has: pickup_ts, trip_distance, passenger_count, "
        "pickup_hour, payment_type, pickup_borough, duration_min, predicted_duration_min",
    )


def test_remote_csv_files_read_like_local_ones(s3_env: S3Server, demo_dir: Path, tmp_path: Path) -> None:
    # plain and gzipped CSV: fetched whole through the store, parsed as the local file is
    folder = tmp_path / "csv"
    folder.mkdir()
    daily = demo_dir / "demo_data" / TAXI / "daily"
    for day, suffix in zip(DAYS, [".csv", ".csv.gz", ".csv"], strict=True):
        pd.read_parquet(daily / f"{day}.parquet").to_csv(folder / f"{day}{suffix}", index=False)
    s3_env.upload(SCRATCH, {f"csv/{p.name}": p for p in folder.iterdir()})
    remote_path = taxi_config(tmp_path / "remote", demo_dir, f"s3://{SCRATCH}/csv/*.csv*", REFERENCE_URL)
    local_path = taxi_config(tmp_path / "local", demo_dir, str(folder / "*.csv*"), REFERENCE_URL)
    remote, local = load_config(remote_path), load_config(local_path)

    for day in DAYS:
        expected = window(local, day)
        assert len(expected) > 100
        pd.testing.assert_frame_equal(window(remote, day), expected)
    assert validate(remote_path) == (0, f"{remote_path}: OK, 1 projects (taxi_duration)\n", "")


def test_a_rewritten_or_added_remote_file_is_read_again(s3_env: S3Server, demo_dir: Path, tmp_path: Path) -> None:
    # caches are keyed by each object's ETag and size, and every read lists the prefix afresh
    daily = demo_dir / "demo_data" / TAXI / "daily"
    first, second = (pd.read_parquet(daily / f"{day}.parquet") for day in DAYS[:2])
    s3_env.upload(SCRATCH, {f"changing/{DAYS[0]}.parquet": daily / f"{DAYS[0]}.parquet"})
    config = load_config(taxi_config(tmp_path, demo_dir, f"s3://{SCRATCH}/changing/*.parquet", REFERENCE_URL))
    assert len(window(config, DAYS[0])) == len(first)
    assert window(config, DAYS[1]).empty

    fewer = tmp_path / "fewer.parquet"
    first.iloc[:10].to_parquet(fewer, index=False)
    s3_env.upload(
        SCRATCH, {f"changing/{DAYS[0]}.parquet": fewer, f"changing/{DAYS[1]}.parquet": daily / f"{DAYS[1]}.parquet"}
    )

    assert len(window(config, DAYS[0])) == 10
    assert len(window(config, DAYS[1])) == len(second)


def test_validate_checks_remote_schemas_and_names_the_url(s3_env: S3Server, demo_dir: Path, tmp_path: Path) -> None:
    good = taxi_config(tmp_path / "good", demo_dir, SOURCE_URL, REFERENCE_URL)
    assert validate(good) == (0, f"{good}: OK, 1 projects (taxi_duration)\n", "")

    raw = yaml.safe_load(good.read_text())
    raw["projects"][0]["columns"]["numerical"][0] = "trip_distanse"
    raw["projects"][0].pop("model", None)  # its columns name trip_distance: the schema check is the point here
    misspelt = tmp_path / "misspelt.yaml"
    misspelt.write_text(yaml.safe_dump(raw, sort_keys=False))
    code, out, err = validate(misspelt)

    files = len(list((demo_dir / "demo_data" / TAXI / "daily").glob("*.parquet")))
    has = (
        "pickup_ts, trip_distance, passenger_count, pickup_hour, fare_amount, payment_type, pickup_borough, "
        "duration_min, predicted_duration_min"
    )
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"Error: {misspelt}: projects[0].columns.numerical[0]: column 'trip_distanse' is missing from "
        f"{files} of {files} files matching {SOURCE_URL} (e.g. s3://{DEMO}/taxi_duration/daily/2026-01-01.parquet); "
        f"it has: {has}; did you mean 'trip_distance'?",
        f"Error: {misspelt}: projects[0].columns.numerical[0]: column 'trip_distanse' is missing from "
        f"the reference file {REFERENCE_URL} (reference.path); it has: {has.removeprefix('pickup_ts, ')}; "
        "did you mean 'trip_distance'?",
    ]


def test_wrong_credentials_or_endpoint_are_one_clear_line(
    s3_env: S3Server, demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = taxi_config(tmp_path, demo_dir, SOURCE_URL, REFERENCE_URL)
    config = load_config(path)
    workspace = FilesWorkspace(tmp_path / "ws")
    wrong_secret = "not-the-issued-secret-0123456789"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", wrong_secret)

    code, out, err = validate(path)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"Error: {path}: projects[0].source.path: cannot list {SOURCE_URL}: access denied: The request signature "
        "we calculated does not match the signature you provided. Check your key and signing method.",
        f"Error: {path}: projects[0].reference.path: cannot read {REFERENCE_URL}: access denied (403 Forbidden): "
        "check the credentials in the environment and the object's permissions",
    ]

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
    result = run_day(config, config.project(TAXI), DAYS[0], workspace=workspace, today=DEMO_TODAY)
    assert (result.outcome, result.error) == (
        "failed",
        f"taxi_duration: cannot list source.path {SOURCE_URL}: access denied: "
        "The AWS Access Key Id you provided does not exist in our records.",
    )

    closed = f"http://127.0.0.1:{_closed_port()}"
    for key, value in s3_env.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", closed)
    result = run_day(config, config.project(TAXI), DAYS[0], workspace=workspace, today=DEMO_TODAY)
    assert result.outcome == "failed"
    assert result.error is not None and "\n" not in result.error
    assert result.error.startswith(
        f"taxi_duration: cannot list source.path {SOURCE_URL}: "
        f'EndpointConnectionError: Could not connect to the endpoint URL: "{closed}/{DEMO}?'
    )
    assert s3_env.secret not in result.error and wrong_secret not in err


MISSING_PACKAGE = """
import datetime
import sys
for package in ("s3fs", "gcsfs", "adlfs"):
    sys.modules[package] = None  # as if not installed: import fails, find_spec says None
from evmon.cli import main
from evmon.config.loader import load_config
from evmon.run.day import run_day
from evmon.storage.files import FilesWorkspace
config = load_config(sys.argv[1])
for project in config.projects:
    print(run_day(config, project, {day!r}, workspace=FilesWorkspace(sys.argv[2])).error)
sys.argv = ["evmon", "validate", "-c", sys.argv[1]]
main()
"""


def test_a_missing_store_package_is_one_error_naming_the_extra(demo_dir: Path, tmp_path: Path) -> None:
    urls = {"s3": "s3://bucket/daily/*.parquet", "gs": "gs://bucket/daily/*.parquet", "abfs": "abfs://box/d/*.csv"}
    raw = yaml.safe_load(taxi_config(tmp_path, demo_dir, SOURCE_URL, REFERENCE_URL).read_text())
    taxi = raw["projects"][0]
    local_reference = {"path": str(demo_dir / "demo_data" / TAXI / "reference.parquet")}
    raw["projects"] = [
        {**taxi, "name": f"on_{scheme}", "source": {**taxi["source"], "path": url}, "reference": local_reference}
        for scheme, url in urls.items()
    ]
    raw["projects"][0]["reference"] = {"path": "s3://bucket/reference.parquet"}
    path = tmp_path / "stores.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    script = MISSING_PACKAGE.format(day=DAYS[0])
    env = {**os.environ, "DO_NOT_TRACK": "1"}

    done = subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "ws")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )

    s3, gs, abfs = urls["s3"], urls["gs"], urls["abfs"]
    assert done.stdout.splitlines() == [
        f"on_s3: source.path {s3} needs the s3fs package, which is not installed; install it with: "
        "pip install 'evmon[s3]'",
        f"on_gs: source.path {gs} needs the gcsfs package, which is not installed; install it with: "
        "pip install 'evmon[gcs]'",
        f"on_abfs: source.path {abfs} needs the adlfs package, which is not installed; install it with: "
        "pip install 'evmon[azure]'",
    ]
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"Error: {path}: projects[0].source.path: {s3} needs the s3fs package, which is not installed; "
        "install it with: pip install 'evmon[s3]'",
        f"Error: {path}: projects[0].reference.path: s3://bucket/reference.parquet needs the s3fs package, "
        "which is not installed; install it with: pip install 'evmon[s3]'",
        f"Error: {path}: projects[1].source.path: {gs} needs the gcsfs package, which is not installed; "
        "install it with: pip install 'evmon[gcs]'",
        f"Error: {path}: projects[2].source.path: {abfs} needs the adlfs package, which is not installed; "
        "install it with: pip install 'evmon[azure]'",
    ]


def test_an_unknown_scheme_or_credentials_in_a_url_are_config_errors(demo_dir: Path, tmp_path: Path) -> None:
    secret = "wJalrXUtnFEMI-K7MDENG"
    path = taxi_config(tmp_path, demo_dir, "hdfs://namenode/daily/*.parquet", f"s3://AKIAKEY:{secret}@bucket/ref.pq")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    supported = "s3://, gs://, gcs://, abfs://, abfss://, az://, file://"
    assert caught.value.problems == [
        f"{path}: projects[0].source.path: unknown URL scheme hdfs://; expected a local path or a URL of "
        f"{supported} (got 'hdfs://namenode/daily/*.parquet')",
        f"{path}: projects[0].reference.path: a URL must not hold credentials (user:secret@); expected them "
        "in the environment, e.g. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    ]
    assert secret not in str(caught.value)


def test_a_file_url_is_a_local_path(demo_dir: Path, tmp_path: Path) -> None:
    daily = demo_dir / "demo_data" / TAXI / "daily"
    reference = demo_dir / "demo_data" / TAXI / "reference.parquet"
    config = load_config(taxi_config(tmp_path, demo_dir, f"file://{daily}/*.parquet", f"file://{reference}"))
    local = load_config(demo_dir / "projects.yaml")
    pd.testing.assert_frame_equal(window(config, DAYS[0]), window(local, DAYS[0]))
    pd.testing.assert_frame_equal(
        read_reference(config, config.project(TAXI)), read_reference(local, local.project(TAXI))
    )
    with pytest.raises(SourceError, match="matches no file"):
        window(
            load_config(taxi_config(tmp_path, demo_dir, f"file://{tmp_path}/none/*.parquet", str(reference))), DAYS[0]
        )


def _closed_port() -> int:
    from evmon.processes import free_port

    return free_port()
