"""The `online:` section of a project: validated like every section, and never part of the project's hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from evmon.config.loader import load_config
from evmon.errors import ConfigError
from tests.conftest import write_config


def test_the_online_section_leaves_the_config_hash_and_refuses_unknown_keys(tmp_path: Path, demo_dir: Path) -> None:
    plain = load_config(write_config(tmp_path / "a.yaml", demo_dir, credit_scorecard={})).projects[0]
    online = {"online": {"window_rows": 500, "row_log": {"path": "rows", "flush_every_s": 5}}}
    watched = load_config(write_config(tmp_path / "b.yaml", demo_dir, credit_scorecard=online)).projects[0]
    assert watched.online is not None and watched.online.row_log is not None
    assert watched.online.row_log.type == "parquet" and watched.online.window_rows == 500
    assert watched.config_hash() == plain.config_hash()  # the daily snapshots do not depend on it

    typo = {"online": {"window_rows": 500, "row_log": {"path": "rows", "flush_every": 5}}}
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path / "c.yaml", demo_dir, credit_scorecard=typo))
    assert "projects[0].online.row_log.flush_every: unknown key" in str(error.value)
    bad = {"online": {"row_log": {"type": "kafka", "path": "x"}}}
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path / "d.yaml", demo_dir, credit_scorecard=bad))
    assert "expected type 'parquet' or 'postgres'" in str(error.value)
