"""A bad data file fails only the days whose rows it holds; every other day runs or is skipped.

Real days through evmon.run.day.run_day (the real Evidently Report) on a tmp workspace, on
small files written per test: the bad file's days fail with one line naming the file and the
problem, the other days are "ok", days without any file "skipped".
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from evmon.config.model import EvmonConfig
from evmon.run.day import run_day
from evmon.storage.files import FilesWorkspace
from tests.wind import day_rows, days_rows, sqlalchemy_url, wind_config

TODAY = date(2026, 2, 1)  # every January day's labels have arrived


def jan(day: int) -> date:
    return date(2026, 1, day)


def outcomes(config: EvmonConfig, tmp_path: Path, days: list[int]) -> dict[int, tuple[str, int | None, str | None]]:
    """day -> (outcome, rows, error) of a real run of each day."""
    workspace = FilesWorkspace(tmp_path / "ws")
    out = {}
    for day in days:
        result = run_day(config, config.projects[0], jan(day), workspace=workspace, today=TODAY)
        out[day] = (result.outcome, result.rows, result.error)
    return out


def parquet_days(folder: Path, days: list[int]) -> Path:
    data = folder / "data"
    data.mkdir(exist_ok=True)
    for day in days:
        day_rows(jan(day)).to_parquet(data / f"{jan(day)}.parquet", index=False)
    return data


@pytest.mark.parametrize("bad_day", [1, 3])
def test_a_parquet_file_lacking_a_column_fails_only_its_own_day(tmp_path: Path, bad_day: int) -> None:
    # naive timestamps, the bad file first or in the middle: before, its neighbours' days and
    # days without a file failed with its message, or its own day ran with the column all null
    data = parquet_days(tmp_path, [1, 2, 3, 4])
    bad = data / f"{jan(bad_day)}.parquet"
    day_rows(jan(bad_day)).drop(columns=["wind_speed"]).to_parquet(bad, index=False)
    config = wind_config(tmp_path, {"path": "data/*.parquet", "timestamp_column": "ts"})

    got = outcomes(config, tmp_path, [1, 2, 3, 4, 6])

    message = (
        f"wind: column 'wind_speed' (columns.numerical) is missing from {bad}; "
        "it has: ts, temperature, site, power, power_pred"
    )
    assert got == {
        **{day: ("ok", 6, None) for day in (1, 2, 3, 4) if day != bad_day},
        bad_day: ("failed", None, message),
        6: ("skipped", 0, None),
    }


def test_a_file_whose_rows_cannot_be_placed_fails_every_day_naming_itself(tmp_path: Path) -> None:
    # a footer that cannot be read gives no timestamp span: the file may hold any day, so no
    # day may run without it (a silently partial day); the message names that file, not another
    data = parquet_days(tmp_path, [1, 2, 3])
    bad = data / f"{jan(3)}.parquet"
    bad.write_bytes(bad.read_bytes()[:300])
    config = wind_config(tmp_path, {"path": "data/*.parquet", "timestamp_column": "ts"})

    got = outcomes(config, tmp_path, [1, 2, 5])

    assert {day: outcome for day, (outcome, _, _) in got.items()} == {1: "failed", 2: "failed", 5: "failed"}
    for _, _, error in got.values():
        assert error is not None and error.startswith(f"wind: cannot read {bad}: "), error
        assert "\n" not in error


def test_a_csv_file_without_the_timestamp_column_fails_every_day_naming_itself(tmp_path: Path) -> None:
    # before, its rows were silently left out of every day (their timestamps read as missing)
    (tmp_path / "data").mkdir()
    day_rows(jan(1)).to_csv(tmp_path / "data" / "a.csv", index=False)
    bad = tmp_path / "data" / "b.csv"
    day_rows(jan(2)).drop(columns=["ts"]).to_csv(bad, index=False)
    config = wind_config(tmp_path, {"path": "data/*.csv", "timestamp_column": "ts"})

    got = outcomes(config, tmp_path, [1, 2])

    message = (
        f"wind: column 'ts' (source.timestamp_column) is missing from {bad}; "
        "it has: wind_speed, temperature, site, power, power_pred"
    )
    assert got == {1: ("failed", None, message), 2: ("failed", None, message)}


def test_a_broken_csv_line_fails_only_the_days_of_its_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    broken = tmp_path / "data" / "a.csv"
    lines = days_rows(jan(1), jan(2)).to_csv(index=False).splitlines()
    lines[4] += ",oops"  # the 4th data row, line 5 of the file
    lines[9] += ",oops,again"
    broken.write_text("\n".join(lines) + "\n")
    day_rows(jan(3)).to_csv(tmp_path / "data" / "b.csv", index=False)
    config = wind_config(tmp_path, {"path": "data/*.csv", "timestamp_column": "ts"})

    got = outcomes(config, tmp_path, [1, 2, 3, 5])

    message = f"wind: {broken}: line 5 has 7 fields, expected 6 as in the header (2 such lines)"
    assert got == {
        1: ("failed", None, message),
        2: ("failed", None, message),
        3: ("ok", 6, None),
        5: ("skipped", 0, None),
    }


def test_a_csv_file_with_a_bad_timestamp_or_a_missing_column_fails_only_its_days(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    bad_stamp = tmp_path / "data" / "a.csv"
    two_days = days_rows(jan(1), jan(2))
    two_days["ts"] = two_days["ts"].astype(str)
    two_days.loc[3, "ts"] = "yesterday"
    two_days.to_csv(bad_stamp, index=False)
    no_temperature = tmp_path / "data" / "b.csv"
    day_rows(jan(3)).drop(columns=["temperature"]).to_csv(no_temperature, index=False)
    day_rows(jan(4)).to_csv(tmp_path / "data" / "c.csv", index=False)
    config = wind_config(tmp_path, {"path": "data/*.csv", "timestamp_column": "ts"})

    got = outcomes(config, tmp_path, [1, 2, 3, 4, 6])

    stamp_message = (
        f"wind: {bad_stamp}: timestamp column 'ts' holds non-timestamps, e.g. 'yesterday' (row 4); "
        "expected timestamps such as 2026-01-31 23:59:00"
    )
    column_message = (
        f"wind: column 'temperature' (columns.numerical) is missing from {no_temperature}; "
        "it has: ts, wind_speed, site, power, power_pred"
    )
    assert got == {
        1: ("failed", None, stamp_message),
        2: ("failed", None, stamp_message),
        3: ("failed", None, column_message),
        4: ("ok", 6, None),
        6: ("skipped", 0, None),
    }


def test_text_in_a_numerical_csv_column_fails_only_the_day_holding_it(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    two_days = days_rows(jan(1), jan(2))
    two_days["wind_speed"] = two_days["wind_speed"].astype(object)
    two_days.loc[2, "wind_speed"] = "calm"  # a row of January 1st
    first = tmp_path / "data" / "a.csv"
    two_days.to_csv(first, index=False)
    day_rows(jan(3)).to_csv(tmp_path / "data" / "b.csv", index=False)
    config = wind_config(tmp_path, {"path": "data/*.csv", "timestamp_column": "ts"})

    got = outcomes(config, tmp_path, [1, 2, 3])

    assert got == {
        1: (
            "failed",
            None,
            f"wind: column 'wind_speed' (columns.numerical) in {first} holds non-numeric values, "
            "e.g. 'calm' (row 3); expected numbers",
        ),
        2: ("ok", 6, None),
        3: ("ok", 6, None),
    }


def test_text_in_a_numerical_parquet_column_fails_only_its_file(tmp_path: Path) -> None:
    data = parquet_days(tmp_path, [1, 2, 3])
    bad = data / f"{jan(2)}.parquet"
    frame = day_rows(jan(2))
    frame["wind_speed"] = ["5.0", "calm", "6.5", "7", "4", "3"]
    frame.to_parquet(bad, index=False)
    config = wind_config(tmp_path, {"path": "data/*.parquet", "timestamp_column": "ts"})

    got = outcomes(config, tmp_path, [1, 2, 3])

    assert got == {
        1: ("ok", 6, None),
        2: (
            "failed",
            None,
            f"wind: column 'wind_speed' (columns.numerical) in {bad} holds non-numeric values, "
            "e.g. 'calm' (row 2); expected numbers",
        ),
        3: ("ok", 6, None),
    }


def test_text_in_a_numerical_sql_column_fails_only_the_day_holding_it(
    tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = days_rows(jan(1), jan(2))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE readings (ts timestamp, wind_speed text, temperature numeric(5, 1), site text, "
            "power double precision, power_pred double precision)"
        )
        for i, row in enumerate(rows.itertuples(index=False)):
            speed = "calm" if i == 7 else str(row.wind_speed)  # the 2nd row of January 2nd
            conn.execute(
                "INSERT INTO readings VALUES (%s, %s, %s, %s, %s, %s)",
                (row.ts, speed, row.temperature, row.site, row.power, row.power_pred),
            )
    monkeypatch.setenv("WIND_DSN", sqlalchemy_url(pg_dsn))
    query = "SELECT * FROM readings WHERE ts >= :start AND ts < :end ORDER BY ts"
    config = wind_config(tmp_path, {"type": "sql", "dsn_env": "WIND_DSN", "query": query, "timestamp_column": "ts"})

    got = outcomes(config, tmp_path, [1, 2])

    assert got == {
        1: ("ok", 6, None),  # text that holds numbers, and NUMERIC values, are read as numbers
        2: (
            "failed",
            None,
            "wind: column 'wind_speed' (columns.numerical) in the SQL query of WIND_DSN holds non-numeric "
            "values, e.g. 'calm' (row 2 of the window); expected numbers",
        ),
    }


def test_a_good_day_reads_exactly_its_rows_whatever_the_neighbours_hold(tmp_path: Path) -> None:
    # naive local timestamps (America/New_York) near midnight: a day's window holds its own rows
    # only, from its own file, and a neighbour's bad file is never opened for it
    data = tmp_path / "data"
    data.mkdir()
    for day in (1, 2, 3):
        frame = day_rows(jan(day))
        frame.loc[0, "ts"] = pd.Timestamp(jan(day))  # 00:00 local
        frame.loc[5, "ts"] = pd.Timestamp(jan(day)) + pd.Timedelta(hours=23, minutes=59)
        frame.to_parquet(data / f"{jan(day)}.parquet", index=False)
    day_rows(jan(2)).drop(columns=["temperature"]).to_parquet(data / f"{jan(2)}.parquet", index=False)
    config = wind_config(
        tmp_path,
        {"path": "data/*.parquet", "timestamp_column": "ts", "timestamp_timezone": "America/New_York"},
        timezone="America/New_York",
    )
    from evmon.days import day_window_utc
    from evmon.sources import read as sources

    for day in (1, 3):
        got = sources.read_window(config, config.projects[0], *day_window_utc(jan(day), "America/New_York"))
        expected = pd.read_parquet(data / f"{jan(day)}.parquet")
        assert got["ts"].tolist() == expected["ts"].tolist()
        assert got["wind_speed"].tolist() == expected["wind_speed"].tolist()


def test_a_csv_header_repeating_a_needed_column_fails_its_days_naming_file_and_column(tmp_path: Path) -> None:
    # `ts,...,wind_speed` twice: pandas would read the second as 'wind_speed.1' and the day would run
    # on whichever came first, silently; a repeated column no role reads (a note) is harmless
    (tmp_path / "data").mkdir()
    repeated = tmp_path / "data" / "a.csv"
    frame = days_rows(jan(1), jan(2))
    lines = frame.to_csv(index=False).splitlines()
    repeated.write_text("\n".join([lines[0] + ",wind_speed", *(line + ",9.5" for line in lines[1:])]) + "\n")
    noted = day_rows(jan(3)).assign(note="a", note_again="b")
    noted.to_csv(tmp_path / "data" / "b.csv", index=False, header=[*day_rows(jan(3)).columns, "note", "note"])
    config = wind_config(tmp_path, {"path": "data/*.csv", "timestamp_column": "ts"})

    got = outcomes(config, tmp_path, [1, 2, 3])

    message = (
        f"wind: column 'wind_speed' (columns.numerical) appears 2 times among the columns of {repeated}; "
        "expected it once"
    )
    assert got == {1: ("failed", None, message), 2: ("failed", None, message), 3: ("ok", 6, None)}


def test_a_reference_csv_repeating_a_column_fails_naming_it(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    day_rows(jan(1)).to_csv(tmp_path / "data" / "a.csv", index=False)
    reference = days_rows(date(2025, 12, 1), date(2025, 12, 2)).drop(columns=["ts"])
    reference.assign(again=reference["site"]).to_csv(
        tmp_path / "ref.csv", index=False, header=[*reference.columns, "site"]
    )
    config = wind_config(tmp_path, {"path": "data/*.csv", "timestamp_column": "ts"}, {"path": "ref.csv"})

    got = outcomes(config, tmp_path, [1])

    message = (
        f"wind: column 'site' (columns.categorical) appears 2 times among the columns of {tmp_path / 'ref.csv'}; "
        "expected it once"
    )
    assert got == {1: ("failed", 6, message)}  # the day has its 6 rows; the reference fails it


def test_a_day_beside_a_big_csv_file_reads_only_its_timestamps(tmp_path: Path) -> None:
    # a neighbouring day's file is scanned for its span (its timestamp column, in chunks), never
    # parsed whole: only the day's own file is
    from evmon.days import day_window_utc
    from evmon.sources import csv_files
    from evmon.sources import read as sources

    (tmp_path / "data").mkdir()
    big = pd.concat([days_rows(*(jan(d) for d in range(1, 21)))] * 50, ignore_index=True)
    big.to_csv(tmp_path / "data" / "big.csv", index=False)
    day_rows(jan(25)).to_csv(tmp_path / "data" / "small.csv", index=False)
    config = wind_config(tmp_path, {"path": "data/*.csv", "timestamp_column": "ts"})
    csv_files.csv_file.cache_clear()
    csv_files.csv_summary.cache_clear()

    got = sources.read_window(config, config.projects[0], *day_window_utc(jan(25), "UTC"))

    assert len(got) == 6
    parsed = csv_files.csv_file.cache_info()
    assert (parsed.misses, parsed.currsize) == (1, 1)  # the small file only
    summary = csv_files.csv_summary(str(tmp_path / "data" / "big.csv"), *_version(tmp_path / "data" / "big.csv"), "ts")
    assert (summary.rows, summary.span) == (len(big), (big["ts"].min(), big["ts"].max()))


@pytest.mark.parametrize(
    "stamps",
    [
        ["2026-01-02 10:00:00", "2026-01-01 00:00:00", "2026-01-03 23:59:59"],
        ["2026-01-02T10:00:00+01:00", "2026-01-01T00:00:00+01:00", "2026-01-03T23:59:59+01:00"],
        ["2026-01-02T10:00:00Z", "2026-01-01T00:00:00Z", "2026-01-03T23:59:59Z"],
        ["01/02/2026 10:00", "01/13/2026 00:00", "01/03/2026 23:59"],
        ["2026-01-02", "2026-01-01", "2026-01-03"],
        # the scan leaves these to a whole parse: several formats, offsets that differ, a non-timestamp
        ["2026-01-02", "2026-01-01 10:00:00", "2026-01-03T23:59:59"],
        ["2026-01-02T10:00:00+01:00", "2026-01-01T00:00:00-05:00", "2026-01-03T23:59:59+01:00"],
        ["2026-01-02 10:00:00", "soon", "2026-01-03 23:59:59"],
        ["", "", ""],
        [],
    ],
)
def test_a_csv_files_scanned_summary_is_the_one_a_whole_parse_gives(tmp_path: Path, stamps: list[str]) -> None:
    from evmon.sources import csv_files

    path = tmp_path / "a.csv"
    pd.DataFrame({"ts": stamps, "x": range(len(stamps))}).to_csv(path, index=False)
    csv_files.csv_summary.cache_clear()

    summary = csv_files.csv_summary(str(path), *_version(path), "ts")

    parsed = csv_files.csv_file(str(path), *_version(path), "ts")
    whole = csv_files.CsvSummary(tuple(parsed.frame.columns), len(parsed.frame), parsed.span, parsed.problem)
    assert summary == whole


def _version(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns
