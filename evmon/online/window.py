"""The last N scored rows of each watched column, and their drift against the reference.

A ring buffer per column (float64 for numerical columns, objects for categorical ones): memory is
N values a column whatever the traffic; appending is a slice copy; the drift of the window is
evmon.online.psi over each column's values (Evidently's PSI of the same rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from evmon.online.psi import ColumnReference, current_values, psi


@dataclass(frozen=True)
class WindowDrift:
    """The window's PSI per column (None: no value to compare), which columns drifted, their share."""

    rows: int
    scores: dict[str, float | None]
    drifted: dict[str, bool]

    @property
    def drifted_share(self) -> float:
        judged = [d for c, d in self.drifted.items() if self.scores.get(c) is not None]
        return sum(judged) / len(judged) if judged else 0.0


class SlidingWindow:
    """The last `size` rows of `references`' columns."""

    def __init__(self, references: Sequence[ColumnReference], size: int) -> None:
        self.references = {r.column: r for r in references}
        self.size = size
        self._values = {
            r.column: np.full(size, np.nan) if r.kind == "num" else np.full(size, None, dtype=object)
            for r in references
        }
        self._next = 0  # where the next row goes
        self._filled = 0

    @property
    def rows(self) -> int:
        return self._filled

    def append(self, columns: Mapping[str, Sequence[object]], count: int) -> None:
        """Add `count` rows given column by column (each column's sequence holds `count` values)."""
        if count <= 0:
            return
        keep = min(count, self.size)
        positions = (self._next + np.arange(keep)) % self.size
        for column, buffer in self._values.items():
            values = columns.get(column)
            if values is None:
                buffer[positions] = np.nan if buffer.dtype.kind == "f" else None
            else:
                buffer[positions] = np.asarray(values[count - keep :], dtype=buffer.dtype)
        self._next = (self._next + keep) % self.size
        self._filled = min(self.size, self._filled + keep)

    def column(self, name: str) -> np.ndarray:
        """The window's values of one column (oldest first is not kept: PSI does not depend on order)."""
        return self._values[name][: self._filled] if self._filled < self.size else self._values[name]

    def drift(self) -> WindowDrift:
        scores: dict[str, float | None] = {}
        drifted: dict[str, bool] = {}
        for name, reference in self.references.items():
            score = psi(reference, current_values(reference, self.column(name))) if self._filled else None
            scores[name] = score
            drifted[name] = score is not None and score >= reference.threshold
        return WindowDrift(self._filled, scores, drifted)
