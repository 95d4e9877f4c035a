"""`evmon validate` looks inside the files and queries a config points at: schemas only, every problem.

Exact stderr lines and exit codes of the real CLI (click's CliRunner) on small files written
per test, a real Postgres for SQL sources, and files whose data is corrupt behind a good
footer or header line (validate must not notice: it reads no data).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest
import yaml
from click.testing import CliRunner

from evmon.cli import cli
from evmon.config.loader import load_config
from evmon.run.day import run_day
from evmon.storage.files import FilesWorkspace
from tests.wind import day_rows, sqlalchemy_url, wind_project, write_projects, write_reference

PARQUET_SOURCE = {"path": "data/*.parquet", "timestamp_column": "ts"}
CSV_SOURCE = {"path": "csv/*.csv", "timestamp_column": "ts"}


def validate(path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    return result.exit_code, result.stdout, result.stderr


def parquet_days(folder: Path, days: int = 3) -> Path:
    data = folder / "data"
    data.mkdir(exist_ok=True)
    for day in range(1, days + 1):
        day_rows(date(2026, 1, day)).to_parquet(data / f"2026-01-0{day}.parquet", index=False)
    return data


def test_a_missing_reference_file_and_an_empty_glob(tmp_path: Path) -> None:
    path = write_projects(tmp_path, wind_project("wind", CSV_SOURCE, {"path": "csv/ref.csv"}))
    code, out, err = validate(path)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"Error: {path}: projects[0].source.path: 'csv/*.csv' matches no file (looked for {tmp_path}/csv/*.csv); "
        "expected a path or glob of Parquet or CSV files",
        f"Error: {path}: projects[0].reference.path: 'csv/ref.csv' is not a file "
        f"(looked for {tmp_path}/csv/ref.csv); expected the reference data as Parquet or CSV",
    ]
    (tmp_path / "csv").mkdir()
    day_rows(date(2026, 1, 1)).to_csv(tmp_path / "csv" / "2026-01-01.csv", index=False)
    day_rows(date(2026, 1, 1)).to_csv(tmp_path / "csv" / "ref.csv", index=False)
    assert validate(path) == (0, f"{path}: OK, 1 projects (wind)\n", "")


def test_every_problem_of_every_project_is_one_line_with_file_and_key_path(tmp_path: Path) -> None:
    data = parquet_days(tmp_path)
    stamps_as_text = day_rows(date(2026, 1, 2))
    stamps_as_text["ts"] = stamps_as_text["ts"].astype(str)
    stamps_as_text["temperature"] = stamps_as_text["temperature"].astype(str)
    stamps_as_text.to_parquet(data / "2026-01-02.parquet", index=False)
    (tmp_path / "csv").mkdir()
    day_rows(date(2026, 1, 1)).to_csv(tmp_path / "csv" / "a.csv", index=False)
    day_rows(date(2026, 1, 2)).drop(columns=["power_pred"]).to_csv(tmp_path / "csv" / "b.csv", index=False)
    reference = write_reference(tmp_path)
    day_rows(date(2025, 12, 1)).drop(columns=["ts", "site"]).to_parquet(tmp_path / "ref_no_site.parquet")
    typo = wind_project("wind", PARQUET_SOURCE, reference)
    typo["columns"] = {**typo["columns"], "numerical": ["wind_sped", "temperature"]}
    path = write_projects(tmp_path, typo, wind_project("wind_csv", CSV_SOURCE, {"path": "ref_no_site.parquet"}))

    code, out, err = validate(path)

    parquet_columns = "ts, wind_speed, temperature, site, power, power_pred"
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"Error: {path}: projects[0].columns.numerical[0]: column 'wind_sped' is missing from 3 of 3 files "
        f"matching data/*.parquet (e.g. data/2026-01-01.parquet); it has: {parquet_columns}; "
        "did you mean 'wind_speed'?",
        f"Error: {path}: projects[0].columns.numerical[1]: column 'temperature' is large_string in 1 of 3 files "
        "matching data/*.parquet (e.g. data/2026-01-02.parquet); expected numbers (an integer or floating-point type)",
        f"Error: {path}: projects[0].source.timestamp_column: column 'ts' is large_string in 1 of 3 files "
        "matching data/*.parquet (e.g. data/2026-01-02.parquet); expected a timestamp type",
        f"Error: {path}: projects[0].columns.numerical[0]: column 'wind_sped' is missing from the reference file "
        "ref.parquet (reference.path); it has: wind_speed, temperature, site, power, power_pred; "
        "did you mean 'wind_speed'?",
        f"Error: {path}: projects[1].columns.prediction.column: column 'power_pred' is missing from 1 of 2 files "
        "matching csv/*.csv (e.g. csv/b.csv); it has: ts, wind_speed, temperature, site, power",
        f"Error: {path}: projects[1].columns.categorical[0]: column 'site' is missing from the reference file "
        "ref_no_site.parquet (reference.path); it has: wind_speed, temperature, power, power_pred",
    ]


def test_validate_reads_schemas_and_headers_not_data(tmp_path: Path) -> None:
    # the data behind a good footer or header line is garbage: validate says OK (it never
    # reads it), while running those days fails on exactly those files
    data = parquet_days(tmp_path)
    corrupt = data / "2026-01-02.parquet"
    content = bytearray(corrupt.read_bytes())
    content[4:200] = b"\xff" * 196  # the data pages, right after the leading magic bytes
    corrupt.write_bytes(bytes(content))
    (tmp_path / "csv").mkdir()
    garbled = tmp_path / "csv" / "a.csv"
    header = day_rows(date(2026, 1, 1)).to_csv(index=False).splitlines()[0]
    garbled.write_bytes(header.encode() + b"\n\x00\xff\xfe,,\x01\n")
    reference = write_reference(tmp_path)
    path = write_projects(
        tmp_path, wind_project("wind", PARQUET_SOURCE, reference), wind_project("wind_csv", CSV_SOURCE, reference)
    )

    assert validate(path) == (0, f"{path}: OK, 2 projects (wind, wind_csv)\n", "")

    config = load_config(path)
    workspace = FilesWorkspace(tmp_path / "ws")
    pages = run_day(config, config.projects[0], date(2026, 1, 2), workspace=workspace, today=date(2026, 2, 1))
    assert pages.outcome == "failed" and pages.error is not None
    assert pages.error.startswith(f"wind: cannot read {corrupt}: ")
    rows = run_day(config, config.projects[1], date(2026, 1, 1), workspace=workspace, today=date(2026, 2, 1))
    assert rows.outcome == "failed" and rows.error is not None
    assert rows.error.startswith(f"wind_csv: {garbled}: ")


def test_a_reference_window_outside_the_files_timestamps(tmp_path: Path) -> None:
    parquet_days(tmp_path)
    path = write_projects(tmp_path, wind_project("wind", PARQUET_SOURCE, {"start": "2025-01-01", "end": "2025-01-31"}))
    code, out, err = validate(path)
    assert (code, out) == (2, "")
    assert err == (
        f"Error: {path}: projects[0].reference: the window 2025-01-01..2025-01-31 holds no rows: the files matching "
        "data/*.parquet hold timestamps from 2026-01-01 01:00:00 to 2026-01-03 16:00:00; "
        "expected a window inside them\n"
    )


def test_a_sql_source_is_checked_on_an_empty_window(
    tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE readings (ts timestamp, wind_speed double precision, temperature numeric(5, 1), "
            "site text, power double precision, power_pred double precision, taken_at text)"
        )
    monkeypatch.setenv("WIND_DSN", sqlalchemy_url(pg_dsn))
    monkeypatch.delenv("NO_SUCH_DSN", raising=False)
    window = "WHERE ts >= :start AND ts < :end"
    reference = write_reference(tmp_path)

    def sql(query: str, dsn_env: str = "WIND_DSN", timestamp_column: str = "ts") -> dict[str, str]:
        return {"type": "sql", "dsn_env": dsn_env, "query": query, "timestamp_column": timestamp_column}

    good = wind_project("good", sql(f"SELECT * FROM readings {window}"), reference)
    names_a_missing_column = wind_project(
        "typo", sql(f"SELECT ts, wind_sped, temperature, site, power, power_pred FROM readings {window}"), reference
    )
    lacks_columns = wind_project(
        "lacks",
        sql(
            "SELECT taken_at, site AS wind_speed, temperature, site, power FROM readings "
            "WHERE taken_at::timestamp >= :start AND taken_at::timestamp < :end",
            timestamp_column="taken_at",
        ),
        reference,
    )
    no_dsn = wind_project("nodsn", sql(f"SELECT * FROM readings {window}", dsn_env="NO_SUCH_DSN"), reference)
    path = write_projects(tmp_path, good, names_a_missing_column, lacks_columns, no_dsn)

    code, out, err = validate(path)

    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"Error: {path}: projects[1].source.query: the query failed (run on an empty window): "
        'UndefinedColumn: column "wind_sped" does not exist',
        f"Error: {path}: projects[2].columns.numerical[0]: column 'wind_speed' is text in the query's columns "
        "(source.query); expected numbers (an integer or floating-point type)",
        f"Error: {path}: projects[2].columns.prediction.column: column 'power_pred' is missing from the query's "
        "columns (source.query); it has: taken_at, wind_speed, temperature, site, power",
        f"Error: {path}: projects[2].source.timestamp_column: column 'taken_at' is text in the query's columns "
        "(source.query); expected a timestamp type",
        f"Error: {path}: projects[3].source.dsn_env: environment variable NO_SUCH_DSN is not set, so the query's "
        "columns cannot be checked; expected a SQLAlchemy URL such as postgresql+psycopg://user@host/db",
    ]


def test_the_demo_config_is_ok(demo_config_path: Path) -> None:
    """OK; credit_scorecard_live reads its service's row log, which nothing has written yet: said, not failing."""
    raw = yaml.safe_load(demo_config_path.read_text())
    names = ", ".join(p["name"] for p in raw["projects"])
    warning = (
        f"Warning: {demo_config_path}: projects[2].source.path: no file yet: credit_scorecard_live reads its "
        "service's row log (online.row_log), where no row is logged yet; its days have no rows until the service "
        "scores some\n"
    )
    assert validate(demo_config_path) == (0, f"{demo_config_path}: OK, 3 projects ({names})\n", warning)


def test_a_project_whose_source_is_not_its_row_log_still_needs_files(demo_dir: Path, tmp_path: Path) -> None:
    """Only a source under the project's own row log may match no file: anywhere else it is a misplaced path."""
    text = (demo_dir / "projects.yaml").read_text().replace("demo_data/", f"{demo_dir}/demo_data/")
    moved = tmp_path / "projects.yaml"
    moved.write_text(text.replace("demo_data/credit_scorecard/online/*/*/*.parquet", "elsewhere/*/*/*.parquet"))
    code, _, err = validate(moved)
    assert code == 2
    assert f"Error: {moved}: projects[2].source.path: '{demo_dir}/elsewhere/*/*/*.parquet' matches no file" in err
    assert "no file yet" not in err


def test_a_csv_header_repeating_a_needed_column_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "csv").mkdir()
    day_rows(date(2026, 1, 1)).to_csv(tmp_path / "csv" / "a.csv", index=False)
    rows = day_rows(date(2026, 1, 2))
    rows.assign(x=rows["wind_speed"]).to_csv(
        tmp_path / "csv" / "b.csv", index=False, header=[*rows.columns, "wind_speed"]
    )
    noted = rows.assign(note="a", again="b")  # a repeated column no role reads is harmless
    noted.to_csv(tmp_path / "csv" / "c.csv", index=False, header=[*rows.columns, "note", "note"])
    path = write_projects(tmp_path, wind_project("wind", CSV_SOURCE, write_reference(tmp_path)))

    code, out, err = validate(path)

    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"Error: {path}: projects[0].columns.numerical[0]: column 'wind_speed' appears 2 times among the columns "
        "of 1 of 3 files matching csv/*.csv (e.g. csv/b.csv); expected it once",
    ]
