"""memo_keys: the exact keys of the memo's kept results; a repeated large array is found by comparing, not hashing."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

from evmon.evidently import memo_keys
from evmon.evidently.memo_keys import data_hash, values_key

ROWS = 300_000


def _column(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=ROWS)


def test_equal_arrays_have_one_key_and_any_changed_byte_another() -> None:
    values = _column()
    same = values.copy()
    assert values_key(same) == values_key(values)
    for position in (0, ROWS // 2 + 1, ROWS - 1):  # the last, the first, one the sample does not pick
        changed = values.copy()
        changed[position] = np.nextafter(changed[position], np.inf)
        assert values_key(changed) != values_key(values), position
    assert values_key(values.astype(np.float32)) != values_key(values.astype(np.float32) + 1)
    assert values_key(values[:-1]) != values_key(values)
    assert values_key(values.view(np.int64)) != values_key(values)  # the same bytes as another dtype


def test_it_compares_bits_nan_and_negative_zero_included() -> None:
    values = _column()
    values[::7] = np.nan
    assert values_key(values.copy()) == values_key(values)
    zeros, negative = np.zeros(ROWS), np.zeros(ROWS)
    negative[ROWS // 3] = -0.0
    assert values_key(negative) != values_key(zeros)


def test_a_repeated_large_array_is_found_without_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _column(seed=1)
    first = values_key(values)

    def no_hash(_data: object) -> object:
        raise AssertionError("hashed again")

    monkeypatch.setattr(memo_keys, "hashlib", types.SimpleNamespace(sha1=no_hash))
    assert values_key(values.copy()) == first
    with pytest.raises(AssertionError, match="hashed again"):
        values_key(_column(seed=2))


def test_a_strided_view_is_keyed_by_its_values() -> None:
    values = _column()
    assert values_key(values[::2]) == values_key(values[::2].copy())


def test_arrays_of_objects_are_refused() -> None:
    with pytest.raises(TypeError, match="object"):
        values_key(np.array(["a", "b"], dtype=object))


def test_columns_of_every_kind_keep_equal_keys_for_equal_data() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=ROWS),
            "n": rng.integers(0, 9, size=ROWS),
            "region": pd.array(rng.choice(["north", "south", None], size=ROWS), dtype="str"),
            "ts": pd.date_range("2026-01-01", periods=ROWS, freq="s", tz="UTC"),
            "o": pd.Series(rng.choice(["a", "b"], size=ROWS), dtype=object),
        }
    )
    other = {"x": 1e9, "n": 99, "region": "east", "ts": pd.Timestamp("2030-01-01", tz="UTC"), "o": "z"}
    assert data_hash(frame.copy()) == data_hash(frame)
    for name, value in other.items():
        assert data_hash(frame[name].copy()) == data_hash(frame[name]), name
        changed = frame.copy()
        changed.loc[ROWS // 2, name] = value
        assert data_hash(changed) != data_hash(frame), name
        assert data_hash(changed[name]) != data_hash(frame[name]), name


def test_the_index_and_names_are_part_of_the_key() -> None:
    series = pd.Series(_column(), name="x")
    assert data_hash(series.set_axis(series.index + 1)) != data_hash(series)
    assert data_hash(series.rename("y")) != data_hash(series)
    numbered = pd.Index(np.arange(ROWS))
    assert data_hash(series.set_axis(numbered)) == data_hash(series.set_axis(numbered.copy()))
    assert data_hash(series.to_frame()) != data_hash(series.to_frame().rename(columns={"x": "y"}))
