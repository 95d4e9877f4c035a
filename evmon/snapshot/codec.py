"""A snapshot file's bytes: its JSON (with Evidently's NaN literals), its header, its archived form.

Evidently writes NaN and Infinity literals: `loads` reads them, fast (for flattening), `loads_exact`
as Evidently's own loader does, `dumps` writes them. `read_header` reads a file's name, timestamp,
metadata and tags without parsing the megabytes of results; what they mean is evmon.snapshot.contract's.
"""

from __future__ import annotations

import gc
import gzip
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

HEADER_KEYS = ("name", "timestamp", "metadata", "tags")
_HEADER_BYTES = 65536
_RESULTS_KEY = re.compile(rb',\s*"metric_results"\s*:')  # a quote inside a JSON string is escaped: no false hit
_NON_FINITE = re.compile(rb"(?:(?<=[:,\[])|(?<=[:,\[] ))(NaN|-?Infinity)(?=\s*[,\]}])")
_SENTINELS = {b"NaN": b'"\\u0000nan"', b"Infinity": b'"\\u0000inf"', b"-Infinity": b'"\\u0000-inf"'}


def loads(data: bytes) -> Any:
    """A snapshot file's JSON, fast, for flattening; ValueError if it is not JSON.

    orjson is about twice as fast as the stdlib on a 3.6 MB snapshot but rejects the non-finite
    literals Evidently writes; those are rewritten to sentinel strings (evmon.snapshot.flatten.NAN_SENTINELS
    reads them back as floats) only where they stand as values: a rewrite can only break a
    document, never change one silently. The garbage collector is paused meanwhile (the document
    holds no cycles; collections over millions of fresh objects cost as much as the parse).
    Where NaN must be a float in the document itself, use `loads_exact`.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        if b"NaN" in data or b"Infinity" in data:
            try:
                return orjson.loads(_NON_FINITE.sub(lambda m: _SENTINELS[m.group(1)], data))
            except orjson.JSONDecodeError:
                pass
        return json.loads(data)  # the reference parser: its error message names line and column
    finally:
        if enabled:
            gc.enable()


def loads_exact(data: bytes) -> Any:
    """A snapshot file's JSON as Evidently's loader reads it (NaN stays a float NaN); ValueError if not JSON."""
    return json.loads(data)


def dumps(doc: Mapping[str, Any]) -> bytes:
    """A snapshot document's file content, with NaN literals as Evidently writes them."""
    return json.dumps(doc).encode()


def read_header(path: Path) -> dict[str, Any]:
    """A snapshot file's name, timestamp, metadata and tags, without parsing its results.

    Snapshot files start with these keys (report, name, timestamp, metadata, tags), then the
    megabytes of metric_results: the head of the file is enough. Falls back to a full read when
    the head does not parse. OSError if the file cannot be read; ValueError if it is not JSON.
    """
    with open(path, "rb") as handle:
        head = handle.read(_HEADER_BYTES)
    match = _RESULTS_KEY.search(head)
    if match is not None:
        try:
            data = json.loads(head[: match.start()] + b"}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        if isinstance(data, dict):
            return {k: data.get(k) for k in HEADER_KEYS}
    full = loads_exact(path.read_bytes())
    if not isinstance(full, dict):
        raise ValueError(f"{path}: not a snapshot (expected a JSON object)")
    return {k: full.get(k) for k in HEADER_KEYS}


def archived(payload: bytes) -> bytes:
    """A full snapshot as the archive stores it (gzip)."""
    return gzip.compress(payload, compresslevel=6)


def unarchived(data: bytes) -> bytes:
    """The full snapshot an archive file holds; OSError or EOFError if it is damaged."""
    return gzip.decompress(data)
