"""The empirical band: split-conformal intervals on the estimator's own daily error.

NannyML's band (evmon.estimation.base.band) is value +- 3 sampling errors: it covers the noise of a
day's rows, not the estimator's own error (a calibrator fitted on a finite set, trees that learned the
losses imperfectly, a calibration that fits today's data less well). On a year of real data it held
the realized ROC AUC on half the days. The empirical band is value +- q sampling errors, where q is
learned from labelled data evmon already has:

- the calibration set, cross-fitted: its days (or, with fewer than MIN_UNITS days, resampled
  day-sized chunks of rows) are split into FOLDS folds; for each fold the estimator is fitted on the
  others and estimates the held-out days or chunks, whose realized values are known. Each gives a
  score |estimate - realized| / sampling error: the error of an estimator that never saw those rows,
  in units of that chunk's sampling error;
- the project's track record, once labels arrive: the same score of each of the last RECORD_DAYS
  labelled days (evmon.estimation.daily.day_record). With at least MIN_UNITS of them they replace the
  calibration's scores (under drift, the recent days are what resembles today; the calibration set no
  longer is), before that they join them.

q is the split-conformal quantile of the scores: the ceil((m + 1) * level)-th smallest of m, which
covers a new exchangeable day with probability at least `level` (Vovk et al.; Lei et al. 2018,
"Distribution-free predictive inference for regression"). Scaling by the day's sampling error (a
"normalized" conformity score) lets days of different sizes share one q. With fewer than
ceil(1 / (1 - level)) - 1 scores no finite quantile exists and the band is NaN (absent).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from evmon.errors import EstimationError

BAND_LEVEL = 0.95  # the empirical band's nominal coverage (presets.estimation.band_level)
FOLDS = 5  # cross-fitting folds of the calibration set
MIN_UNITS = 20  # calibration days (else resampled chunks), or labelled days, enough to stand alone
CHUNKS_PER_FOLD = 40  # resampled day-sized chunks drawn from each held-out fold
RECORD_DAYS = 30  # the track record: the last labelled days whose scores count
SEED = 42

# fit on some rows (indices) -> a function giving, for other rows, {metric: (estimate, sampling error, realized)}
Scorer = Callable[[np.ndarray], Mapping[str, tuple[float, float, float]]]
FitOn = Callable[[np.ndarray], Scorer]


def score(estimate: float, sampling_error: float, realized: float) -> float:
    """|estimate - realized| in sampling errors; NaN where any is undefined or the sampling error is 0."""
    if not all(math.isfinite(x) for x in (estimate, sampling_error, realized)) or sampling_error <= 0:
        return math.nan
    return abs(estimate - realized) / sampling_error


def quantile(scores: Iterable[float], level: float) -> float:
    """The split-conformal quantile: the ceil((m + 1) * level)-th smallest finite score; NaN when m is too small."""
    finite = sorted(s for s in scores if math.isfinite(s))
    rank = math.ceil((len(finite) + 1) * level - 1e-9)
    return finite[rank - 1] if 1 <= rank <= len(finite) else math.nan


def multiplier(calibration: Sequence[float], record: Sequence[float], level: float) -> float:
    """q for a day: the last RECORD_DAYS labelled days' scores when there are MIN_UNITS of them, else those
    and the calibration's together."""
    recent = [s for s in record if math.isfinite(s)][-RECORD_DAYS:]
    return quantile(recent if len(recent) >= MIN_UNITS else [*calibration, *recent], level)


def cross_fitted_scores(rows: int, days: np.ndarray | None, fit_on: FitOn) -> dict[str, tuple[float, ...]]:
    """Each metric's scores on the calibration set's held-out days (or day-sized chunks), cross-fitted.

    days: each row's day (any labels), or None: then the chunks are of rows // MIN_UNITS rows. A fold
    whose estimator cannot be fitted (e.g. one class left) is skipped; the others still count.
    """
    rng = np.random.default_rng(SEED)
    index = np.arange(rows)
    if days is not None and len(np.unique(days)) >= FOLDS:
        names, day_of_row = np.unique(days, return_inverse=True)
        fold_of_day = rng.permutation(len(names)) % FOLDS
        fold_of_row = fold_of_day[day_of_row]
        sizes = np.bincount(day_of_row)
        chunk_rows = int(np.median(sizes))
        whole_days = len(names) >= MIN_UNITS
    else:
        fold_of_row = rng.permutation(rows) % FOLDS
        day_of_row, whole_days = None, False
        chunk_rows = max(1, rows // MIN_UNITS)
    found: dict[str, list[float]] = {}
    for fold in range(FOLDS):
        held = index[fold_of_row == fold]
        try:
            scorer = fit_on(index[fold_of_row != fold])
        except EstimationError:
            continue
        if whole_days:
            assert day_of_row is not None
            units = [held[day_of_row[held] == d] for d in np.unique(day_of_row[held])]
        else:
            size = min(chunk_rows, len(held))
            units = [rng.choice(held, size, replace=True) for _ in range(CHUNKS_PER_FOLD)]
        for unit in units:
            try:
                values = scorer(unit)
            except EstimationError:
                continue
            for metric, (estimate, sampling_error, realized) in values.items():
                found.setdefault(metric, []).append(score(estimate, sampling_error, realized))
    return {metric: tuple(s for s in scores if math.isfinite(s)) for metric, scores in found.items()}
