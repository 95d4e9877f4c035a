"""What evmon's memo wrappers share: whether an evmon Report is running, and how data is keyed.

`evmon.evidently.memo.memoized()` sets `ACTIVE` (to the running Report's table of histograms and
figures) for the Report it encloses; every wrapper runs Evidently as shipped when it is unset.

Data is keyed by its content, exactly: `values_key` of an array is its dtype, shape and a SHA-1 of
its bytes. The reference (a month of rows) is keyed many times a day and every day; hashing it each
time was a fifth of a warm day. So a large array's key is found first among the arrays keyed before
in this process (a small cache holding a copy of each): the same dtype, shape and a sample of its
values point to one candidate, and the key is that candidate's only if every byte is equal (a
comparison is ~50 times cheaper than a hash). Otherwise it is hashed, and kept for the next time.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections.abc import Hashable
from contextvars import ContextVar
from typing import Any

import numpy as np
import pandas as pd
from cachetools import LRUCache

# the running Report's memo: its histograms and figures, each with the objects its key was taken
# from (kept alive so their memory cannot be reused by other data while the key is in use)
ReportMemo = dict[Hashable, tuple[Any, list[Any]]]
ACTIVE: ContextVar[ReportMemo | None] = ContextVar("evmon_evidently_memo", default=None)

KEYED_CACHE_BYTES = 256 * 2**20  # the copies of keyed arrays kept, at most (least recently used out first)
_KEEP_FROM_BYTES = 2**16  # a smaller array is hashed each time: cheaper than keeping and comparing it
_SAMPLE = 64  # values of an array that pick its candidate
_WORDS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


class _Keyed:
    """A copy of an array keyed before (as unsigned words: compared bit for bit, NaN too) and its digest."""

    def __init__(self, words: np.ndarray, digest: bytes) -> None:
        self.words = words
        self.digest = digest


_KEYED: LRUCache[Hashable, _Keyed] = LRUCache(maxsize=KEYED_CACHE_BYTES, getsizeof=lambda kept: kept.words.nbytes)
_LOCK = threading.Lock()


def active() -> bool:
    """Whether the current thread runs one of evmon's Reports inside `memoized()`."""
    return ACTIVE.get() is not None


def values_key(values: np.ndarray) -> Hashable:
    """An exact key of a numpy array without Python objects: equal keys, equal dtype, shape and bytes."""
    values = np.ascontiguousarray(values)
    if values.dtype.hasobject:
        raise TypeError(f"values_key keys arrays of plain values, not of {values.dtype}")
    head = (values.dtype.str, values.shape)
    flat = values.reshape(-1)
    if flat.nbytes < _KEEP_FROM_BYTES:
        return (*head, hashlib.sha1(flat.view(np.uint8).data).digest())
    word = _WORDS.get(flat.dtype.itemsize)
    words = flat.view(word) if word is not None else flat.view(np.uint8)
    probe = (*head, zlib.crc32(words[:: max(1, words.size // _SAMPLE)].tobytes()), int(words[-1]))
    with _LOCK:
        kept = _KEYED.get(probe)
    if kept is not None and np.array_equal(kept.words, words):
        return (*head, kept.digest)
    digest = hashlib.sha1(words.data).digest()
    if words.nbytes <= KEYED_CACHE_BYTES:  # a larger array is hashed again each time
        with _LOCK:
            _KEYED[probe] = _Keyed(words.copy(), digest)
    return (*head, digest)


def series_key(data: pd.Series | pd.Index) -> Hashable:
    """An exact key of a column's (or an index's) values, whatever its dtype."""
    dtype = data.dtype
    if isinstance(dtype, np.dtype) and not dtype.hasobject:
        return values_key(data.to_numpy())
    if isinstance(dtype, pd.DatetimeTZDtype):  # its instants (the zone and unit are in its dtype)
        return values_key(np.asarray(data.array.asi8))
    arrow = getattr(data.array, "__arrow_array__", None)
    if arrow is not None:  # pandas' Arrow-backed columns (its strings): the type, and each chunk's buffers
        chunked = arrow()
        return ("arrow", str(chunked.type), tuple(_arrow_chunk_key(chunk) for chunk in chunked.chunks))
    hashed = pd.util.hash_pandas_object(data, index=False).to_numpy()
    return ("hashed", str(dtype), hashlib.blake2b(hashed.tobytes(), digest_size=16).digest())


def _arrow_chunk_key(chunk: Any) -> Hashable:
    """Where a chunk starts and ends in its buffers, and every byte of them (a slice's whole buffers)."""
    buffers = tuple(None if b is None else values_key(np.frombuffer(b, dtype=np.uint8)) for b in chunk.buffers())
    return (chunk.offset, len(chunk), buffers)


def _index_key(index: pd.Index) -> Hashable:
    if isinstance(index, pd.RangeIndex):
        return ("range", index.start, index.stop, index.step)
    return series_key(index)


def data_hash(data: pd.Series | pd.DataFrame | None) -> Hashable:
    """A key of the values, index, names and dtypes of `data`: equal keys, equal data."""
    if data is None:
        return None
    if isinstance(data, pd.DataFrame):
        names = repr((list(data.columns), data.dtypes.to_dict(), data.index.dtype, data.index.name))
        columns = tuple(series_key(data.iloc[:, i]) for i in range(data.shape[1]))
        return (len(data), names, _index_key(data.index), columns)
    names = repr((data.name, data.dtype, data.index.dtype, data.index.name))
    return (len(data), names, _index_key(data.index), series_key(data))
