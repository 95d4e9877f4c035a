"""What a Dask worker is asked before a run: whether it sees a project's files (evmon.sources.reach)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from evmon.sources.reach import unseen
from tests.wind import day_rows, wind_config

SOURCE = {"path": "data/*.parquet", "timestamp_column": "ts"}


def test_the_first_file_not_seen_is_named_with_its_key(tmp_path: Path) -> None:
    config = wind_config(tmp_path, SOURCE)
    missing = unseen(config, config.project("wind"))
    assert missing is not None
    assert missing.line() == f"{tmp_path}/data/*.parquet (source.path of project 'wind': no file matches)"

    (tmp_path / "data").mkdir()
    day_rows(date(2026, 1, 1)).to_parquet(tmp_path / "data" / "2026-01-01.parquet", index=False)
    assert unseen(config, config.project("wind")) is None
    (tmp_path / "ref.parquet").unlink()
    missing = unseen(config, config.project("wind"))
    assert missing is not None
    assert missing.line() == f"{tmp_path}/ref.parquet (reference.path of project 'wind': no such file)"


def test_a_calibration_file_is_one_of_the_projects_files(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    day_rows(date(2026, 1, 1)).to_parquet(tmp_path / "data" / "2026-01-01.parquet", index=False)
    estimation = {"calibration": {"path": "calibration.parquet"}}
    config = wind_config(tmp_path, SOURCE, presets={"data_summary": True, "regression": True, "estimation": estimation})
    missing = unseen(config, config.project("wind"))
    assert missing is not None
    assert missing.line() == (
        f"{tmp_path}/calibration.parquet (presets.estimation.calibration.path of project 'wind': no such file)"
    )
