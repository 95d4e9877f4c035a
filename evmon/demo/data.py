"""The demo data: two monitored models, generated offline and deterministically.

credit_scorecard: a binary classifier in the spirit of the FICO HELOC data. A scikit-learn
logistic regression is trained on the reference period (January 2026) and scores every row.
Injected episodes, in days before the data's last day E (the "anchor"; EPISODE_DAYS_BEFORE_ANCHOR):
- E-17..E-16  attribution shift: ExternalRiskEstimate all near the reference's median (70..74, inside
              its range), where it moves the model's score little: the model leans on the burden and the
              inquiries instead, and the nDCG of its SHAP ranking falls below 0.9 (docs/explanations.md);
- E-14..E-12  feature shift: ExternalRiskEstimate drops by 12 points (riskier applicants);
- E-11..E-10  fairness gap: the riskier applicants are the south region's (each column's values,
              the regions' shares unchanged): south's approvals drop, disparate impact below 0.8,
              and no column drifts;
- E-9         missing-values spike: 40% of NetFractionRevolvingBurden and PercentInstallTrades missing;
- E-8         outliers: a quarter of MSinceMostRecentInqexcl7days at 60..120 months (the reference's
              values end at 24): the column's out-of-range share and the IsolationForest's share up;
- E-7..E-4    concept drift: defaults follow another relation (burden and region, not the
              risk estimate); the inputs look as usual but the model's quality drops.
Its labels arrive 3 days late (label_lag_days in projects.yaml), so with E = yesterday the
concept-drift days already have their labels.

taxi_duration: a trip-duration regressor (histogram gradient boosting) trained on a separate
reference file; naive local (America/New_York) timestamps; no episodes.

credit_scorecard_live: the same model as its service scored it (evmon.demo.service): its source is the
service's row log, so it holds no January; its reference is credit_scorecard's January written to one file
(credit_scorecard/reference.parquet, the same rows).

Both models are saved beside their data (model.pkl, and model.skops, which projects.yaml's `model:`
declares: skops reads only the types it trusts) and explained each day (evmon.explain).

Every day's rows come from a generator seeded by (project, date), so the same call gives the
same files; extending the data later appends clean days and keeps the episodes where they were.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from evmon.config.model import Project
from evmon.days import day_range

DEMO_START = date(2026, 1, 1)
REFERENCE_END = date(2026, 1, 31)
CREDIT = "credit_scorecard"
CREDIT_LIVE = "credit_scorecard_live"  # the credit model's service's project: the rows it logged (docs/online.md)
TAXI = "taxi_duration"
CREDIT_FEATURES = [
    "ExternalRiskEstimate",
    "AverageMInFile",
    "NumSatisfactoryTrades",
    "PercentTradesNeverDelq",
    "NetFractionRevolvingBurden",
    "MSinceMostRecentInqexcl7days",
    "PercentInstallTrades",
]
REGIONS = ["north", "south", "east", "west"]
# The injected episodes of credit_scorecard: days before the anchor E (Episodes), the one place they are set
EPISODE_DAYS_BEFORE_ANCHOR: dict[str, tuple[int, ...]] = {
    "clean": (20, 19, 18),
    "attribution_shift": (17, 16),
    "feature_shift": (14, 13, 12),
    "fairness_gap": (11, 10),
    "missing_spike": (9,),
    "outlier_spike": (8,),
    "concept_drift": (7, 6, 5, 4),
}
FAIRNESS_GAP_REGION = "south"  # the region whose approvals drop on the fairness_gap days
OUTLIER_COLUMN = "MSinceMostRecentInqexcl7days"  # far outside the reference on the outlier_spike day
TAXI_NUMERICAL = ["trip_distance", "passenger_count", "pickup_hour", "fare_amount"]
TAXI_CATEGORICAL = ["payment_type", "pickup_borough"]
BOROUGHS = ["Manhattan", "Brooklyn", "Queens", "Bronx", "Staten Island"]


@dataclass(frozen=True)
class Episodes:
    """The injected episodes' days, all relative to the anchor (the first generation's last day)."""

    anchor: date

    def _days(self, episode: str) -> list[date]:
        return [self.anchor - timedelta(days=d) for d in EPISODE_DAYS_BEFORE_ANCHOR[episode]]

    @property
    def attribution_shift(self) -> list[date]:
        """Days where ExternalRiskEstimate sits near its median: the model's SHAP ranking changes."""
        return self._days("attribution_shift")

    @property
    def feature_shift(self) -> list[date]:
        return self._days("feature_shift")

    @property
    def fairness_gap(self) -> list[date]:
        """Days where the south region's approvals drop (disparate impact below 0.8), inputs without drift."""
        return self._days("fairness_gap")

    @property
    def missing_spike(self) -> date:
        return self._days("missing_spike")[0]

    @property
    def outlier_spike(self) -> date:
        """The day with a quarter of OUTLIER_COLUMN far above the reference's range."""
        return self._days("outlier_spike")[0]

    @property
    def concept_drift(self) -> list[date]:
        return self._days("concept_drift")

    @property
    def clean(self) -> list[date]:
        """Days with no episode, for comparison."""
        return self._days("clean")


def _rng(project: str, day: date) -> np.random.Generator:
    return np.random.default_rng([sum(map(ord, project)), day.toordinal()])


# --- credit scorecard -------------------------------------------------------------------------


def _credit_features(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ExternalRiskEstimate": np.clip(rng.normal(72, 10, n), 33, 94).round(),
            "AverageMInFile": np.clip(rng.normal(78, 33, n), 4, 300).round(),
            "NumSatisfactoryTrades": rng.poisson(21, n).astype(float),
            "PercentTradesNeverDelq": np.clip(100 - rng.exponential(8, n), 0, 100).round(),
            "NetFractionRevolvingBurden": (rng.beta(1.3, 2.4, n) * 100).round(),
            "MSinceMostRecentInqexcl7days": np.clip(rng.exponential(3, n), 0, 24).round(),
            "PercentInstallTrades": np.clip(rng.normal(34, 17, n), 0, 100).round(),
            "region": rng.choice(REGIONS, n, p=[0.3, 0.25, 0.25, 0.2]),
        }
    )


def _credit_default_logit(x: pd.DataFrame, concept_drift: bool) -> np.ndarray:
    if concept_drift:
        # a new relation: the burden and the region decide, the risk estimate no longer does
        region = x["region"].map({"north": 1.2, "south": -1.0, "east": 0.4, "west": -0.6}).to_numpy()
        return -1.2 - 0.04 * (x["NetFractionRevolvingBurden"].fillna(35).to_numpy() - 35) + region
    return (
        -1.0
        - 0.11 * (x["ExternalRiskEstimate"].to_numpy() - 72)
        + 0.025 * (x["NetFractionRevolvingBurden"].fillna(35).to_numpy() - 35)
        - 0.12 * (x["MSinceMostRecentInqexcl7days"].to_numpy() - 3)
        - 0.03 * (x["PercentTradesNeverDelq"].to_numpy() - 92)
    )


def _credit_day(day: date, episodes: Episodes | None, rows_per_day: int) -> pd.DataFrame:
    rng = _rng(CREDIT, day)
    n = int(rng.poisson(rows_per_day * (0.7 if day.weekday() >= 5 else 1.0)))
    x = _credit_features(rng, n)
    if episodes is not None and day in episodes.feature_shift:
        x["ExternalRiskEstimate"] = np.clip(x["ExternalRiskEstimate"] - 12, 33, 94)
    if episodes is not None and day in episodes.attribution_shift:
        narrow = _rng(CREDIT + " attribution", day)
        x["ExternalRiskEstimate"] = narrow.integers(70, 75, n).astype(float)
    if episodes is not None and day == episodes.missing_spike:
        for column in ("NetFractionRevolvingBurden", "PercentInstallTrades"):
            x.loc[rng.random(n) < 0.4, column] = np.nan
    if episodes is not None and day in episodes.fairness_gap:
        x["region"] = _riskier_in_one_region(x, _rng(CREDIT + " fairness", day))
    if episodes is not None and day == episodes.outlier_spike:
        extra = _rng(CREDIT + " outliers", day)
        far = extra.random(n) < 0.25  # the forest flags about a third of them: its share well above 5%
        x.loc[far, OUTLIER_COLUMN] = extra.uniform(60, 120, int(far.sum())).round()
    drifted = episodes is not None and day in episodes.concept_drift
    p = 1 / (1 + np.exp(-_credit_default_logit(x, drifted)))
    x["defaulted"] = (rng.random(n) < p).astype("int64")
    seconds = np.sort(rng.integers(0, 86400, n))
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    x.insert(0, "application_ts", pd.to_datetime(start) + pd.to_timedelta(seconds, unit="s"))
    return x


def _riskier_in_one_region(x: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """The day's region values re-dealt so that FAIRNESS_GAP_REGION gets the riskier applicants.

    The region's rows are drawn with weights rising steeply as ExternalRiskEstimate falls; every
    other row keeps one of the other regions' values in order. Each column's values, the regions'
    shares among them, are the day's own: no drift, only who is in which region changes.
    """
    regions = x["region"].to_numpy(dtype=object)
    chosen = regions == FAIRNESS_GAP_REGION
    risk = -x["ExternalRiskEstimate"].to_numpy(dtype=float)
    weights = np.exp(2.0 * (risk - risk.mean()) / risk.std())
    picked = np.zeros(len(regions), dtype=bool)
    picked[rng.choice(len(regions), int(chosen.sum()), replace=False, p=weights / weights.sum())] = True
    dealt = np.empty(len(regions), dtype=object)
    dealt[picked] = FAIRNESS_GAP_REGION
    dealt[~picked] = regions[~chosen]
    return dealt


def _credit_model(days: dict[date, pd.DataFrame]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train = pd.concat([days[d] for d in day_range(DEMO_START, REFERENCE_END)], ignore_index=True)
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), CREDIT_FEATURES),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
        ]
    )
    model = make_pipeline(prep, LogisticRegression(max_iter=1000))
    return model.fit(train[[*CREDIT_FEATURES, "region"]], train["defaulted"])


# --- taxi trip duration -----------------------------------------------------------------------


def _taxi_rows(rng: np.random.Generator, n: int, day: date) -> pd.DataFrame:
    local_start = datetime(day.year, day.month, day.day)
    seconds = np.sort(rng.integers(0, 86400, n))
    stamps = pd.to_datetime(local_start) + pd.to_timedelta(seconds, unit="s")
    hour = stamps.hour.to_numpy()
    distance = np.round(np.clip(rng.lognormal(0.8, 0.7, n), 0.1, 60), 2)
    rush = np.where(((hour >= 7) & (hour <= 9)) | ((hour >= 16) & (hour <= 19)), 1.45, 1.0)
    duration = np.clip(3 + 3.1 * distance * rush + rng.normal(0, 3, n), 1, 240).round(1)
    return pd.DataFrame(
        {
            "pickup_ts": stamps,
            "trip_distance": distance,
            "passenger_count": rng.choice([1, 1, 1, 2, 2, 3, 4, 5, 6], n).astype(float),
            "pickup_hour": hour.astype(float),
            "fare_amount": np.round(3.0 + 2.6 * distance + rng.normal(0, 1.5, n).clip(-2, 5), 2),
            "payment_type": rng.choice(["card", "cash"], n, p=[0.78, 0.22]),
            "pickup_borough": rng.choice(BOROUGHS, n, p=[0.55, 0.2, 0.15, 0.07, 0.03]),
            "duration_min": duration,
        }
    )


def _taxi_model(reference: pd.DataFrame) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    prep = ColumnTransformer([("cat", OrdinalEncoder(), TAXI_CATEGORICAL), ("num", "passthrough", TAXI_NUMERICAL)])
    model = make_pipeline(prep, HistGradientBoostingRegressor(max_iter=120, random_state=7))
    return model.fit(reference[TAXI_NUMERICAL + TAXI_CATEGORICAL], reference["duration_min"])


# --- files ------------------------------------------------------------------------------------


def ensure_demo_data(data_dir: Path, end: date | None = None, credit_rows: int = 600, taxi_rows: int = 500) -> Episodes:
    """Write the demo's daily files up to `end` (default yesterday); keep what is there.

    The first call fixes the episodes' anchor at `end`; later calls with a later `end` only
    append clean days, so snapshots already computed stay true to their data.
    """
    last = end if end is not None else datetime.now(ZoneInfo("UTC")).date() - timedelta(days=1)
    manifest_path = data_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    if manifest is not None and date.fromisoformat(manifest["end"]) >= last:
        _write_credit_reference(data_dir / CREDIT)  # demo data written before there was one
        return Episodes(date.fromisoformat(manifest["anchor"]))
    anchor = date.fromisoformat(manifest["anchor"]) if manifest else last
    first_new = date.fromisoformat(manifest["end"]) + timedelta(days=1) if manifest else DEMO_START
    if last < REFERENCE_END + timedelta(days=21):
        raise ValueError(f"the demo needs data up to at least {REFERENCE_END + timedelta(days=21)}, got {last}")
    episodes = Episodes(anchor)
    _write_credit(data_dir / CREDIT, first_new, last, episodes, credit_rows)
    _write_credit_reference(data_dir / CREDIT)
    _write_taxi(data_dir / TAXI, first_new, last, taxi_rows)
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps({"anchor": anchor.isoformat(), "end": last.isoformat()}, indent=2))
    return episodes


def _write_credit(folder: Path, first: date, last: date, episodes: Episodes, rows: int) -> None:
    daily = folder / "daily"
    daily.mkdir(parents=True, exist_ok=True)
    model_path = folder / "model.pkl"
    if model_path.exists():
        model = pickle.loads(model_path.read_bytes())
    else:
        reference_days = {d: _credit_day(d, None, rows) for d in day_range(DEMO_START, REFERENCE_END)}
        model = _credit_model(reference_days)
        model_path.write_bytes(pickle.dumps(model))
    _write_skops(model, folder / "model.skops")
    for day in day_range(first, last):
        frame = _credit_day(day, episodes, rows)
        frame["default_probability"] = model.predict_proba(frame[[*CREDIT_FEATURES, "region"]])[:, 1].round(6)
        _write_parquet(frame, daily / f"{day.isoformat()}.parquet")


def _write_credit_reference(folder: Path) -> None:
    """credit_scorecard's reference window (January) as one file, once: credit_scorecard_live's reference."""
    path = folder / "reference.parquet"
    if path.exists():
        return
    days = [folder / "daily" / f"{day.isoformat()}.parquet" for day in day_range(DEMO_START, REFERENCE_END)]
    _write_parquet(pd.concat([pd.read_parquet(day) for day in days], ignore_index=True), path)


def _write_taxi(folder: Path, first: date, last: date, rows: int) -> None:
    daily = folder / "daily"
    daily.mkdir(parents=True, exist_ok=True)
    model_path = folder / "model.pkl"
    reference_path = folder / "reference.parquet"
    if model_path.exists() and reference_path.exists():
        model = pickle.loads(model_path.read_bytes())
    else:
        rng = np.random.default_rng(20260101)
        reference = pd.concat(
            [_taxi_rows(rng, rows, d) for d in day_range(DEMO_START, REFERENCE_END)], ignore_index=True
        )
        model = _taxi_model(reference)
        reference["predicted_duration_min"] = model.predict(reference[TAXI_NUMERICAL + TAXI_CATEGORICAL]).round(2)
        _write_parquet(reference.drop(columns=["pickup_ts"]), reference_path)
        model_path.write_bytes(pickle.dumps(model))
    _write_skops(model, folder / "model.skops")
    for day in day_range(first, last):
        rng = _rng(TAXI, day)
        frame = _taxi_rows(rng, int(rng.poisson(rows)), day)
        frame["predicted_duration_min"] = model.predict(frame[TAXI_NUMERICAL + TAXI_CATEGORICAL]).round(2)
        _write_parquet(frame, daily / f"{day.isoformat()}.parquet")


def _write_skops(model: Any, path: Path) -> None:
    """The model as a skops file (the format projects.yaml declares), once; without skops, only model.pkl."""
    if path.exists():
        return
    try:
        import skops.io as sio
    except ImportError:  # the explain extra is not installed: the demo runs without explanations
        return
    tmp = path.with_suffix(".skops.tmp")
    sio.dump(model, tmp)
    tmp.replace(path)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(".parquet.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def demo_data_extender(config_path: Path) -> Callable[[Project, date], None]:
    """A scheduler before-fire hook that extends the demo data (beside projects.yaml) up to yesterday."""
    data_dir = Path(config_path).parent / "demo_data"

    def extend(project: Project, today: date) -> None:
        ensure_demo_data(data_dir, end=today - timedelta(days=1))

    return extend
