"""What evmon's memo wrappers share: whether an evmon Report is running, and how data is keyed.

`evmon.evidently.memo.memoized()` sets `ACTIVE` (to the running Report's table of histograms and
figures) for the Report it encloses; every wrapper runs Evidently as shipped when it is unset.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from contextvars import ContextVar
from typing import Any

import pandas as pd

# the running Report's memo: its histograms and figures, each with the objects its key was taken
# from (kept alive so their memory cannot be reused by other data while the key is in use)
ReportMemo = dict[Hashable, tuple[Any, list[Any]]]
ACTIVE: ContextVar[ReportMemo | None] = ContextVar("evmon_evidently_memo", default=None)


def active() -> bool:
    """Whether the current thread runs one of evmon's Reports inside `memoized()`."""
    return ACTIVE.get() is not None


def data_hash(data: pd.Series | pd.DataFrame | None) -> Hashable:
    """A key of the values, index, names and dtypes of `data`: equal keys, equal data."""
    if data is None:
        return None
    hashed = pd.util.hash_pandas_object(data, index=True).to_numpy()
    if isinstance(data, pd.DataFrame):
        names = repr((list(data.columns), data.dtypes.to_dict(), data.index.dtype, data.index.name))
    else:
        names = repr((data.name, data.dtype, data.index.dtype, data.index.name))
    return (len(data), names, hashlib.blake2b(hashed.tobytes(), digest_size=16).digest())
