"""evmon's CBPE and DLE (evmon.estimation.cbpe, evmon.estimation.dle) against NannyML's, on the same files.

NannyML goes in a venv of its own (its pins clash with evmon's), once:

    python3 -m venv /tmp/nml-venv
    /tmp/nml-venv/bin/pip install nannyml statsmodels "pandas<3"
    # nannyml 0.13.1 imports statsmodels without requiring it, and its DLE fails on pandas 3's string
    # columns (ArrowStringArray has no reshape), so it runs on the pandas 2 it was released with

then, from the repo:

    .venv/bin/python bench/estimation_vs_nannyml.py [--days 30] [--reference-rows 10000] [--seed 0]
        [--nannyml-python /tmp/nml-venv/bin/python] [--keep DIR]

It writes three scenarios as parquet files (a labelled reference set and N daily chunks of 600 to
1400 rows, the last third of the days covariate-shifted): a binary classifier with calibrated scores,
one with over-confident scores (so isotonic calibration is needed) and a regressor with two numerical
features and a categorical one. evmon estimates every day here; NannyML's CBPE and DLE (chunk_period="D")
estimate the same days in the other venv (this file run with --nannyml-side DIR). It prints, per
metric, the max and median |evmon - NannyML| over the days of the estimate, the sampling error and
the band's ends, and whether the realized value is inside both bands on the same days; and how long
evmon's fit and one day's estimate take on 10,000 rows. Goal: within 0.01 ROC AUC, 2% relative MAE.
It also prints both bands side by side (issue 29): the share of days whose realized value NannyML's
+-3 sampling-error band and evmon's empirical 95% band (evmon.estimation.conformal; each day's track
record the days before it) hold, and their median widths. --real adds NannyML's real data set
(US census employment, Massachusetts) cut into 600-row days.
Output kept in bench/out/estimation_vs_nannyml.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
START = pd.Timestamp("2024-01-01")
CBPE_METRICS = ["roc_auc", "accuracy", "precision", "recall", "f1"]
DLE_METRICS = ["mae", "rmse"]
FEATURES = ["income", "debt_ratio", "region"]
THRESHOLD = 0.5


def _classification(rng: np.random.Generator, rows: int, shift: bool, sharpness: float) -> pd.DataFrame:
    """A credit-like classifier: true default probability from two features; the score is that (sharpened)."""
    income = rng.normal(0.8 if shift else 0.0, 0.6 if shift else 1.0, rows)
    debt = rng.normal(0.0, 1.0, rows)
    logit = -1.0 - 1.4 * income + 0.9 * debt
    y_true = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    y_score = 1 / (1 + np.exp(-sharpness * logit))
    y_pred = (y_score >= THRESHOLD).astype(int)
    return pd.DataFrame({"income": income, "debt_ratio": debt, "y_true": y_true, "y_score": y_score, "y_pred": y_pred})


def _regression(rng: np.random.Generator, rows: int, shift: bool) -> pd.DataFrame:
    """A price model whose error grows with income and in region 'c'; shifted days have more such rows."""
    income = rng.uniform(3.0 if shift else 0.0, 10.0, rows)
    debt = rng.normal(0.0, 1.0, rows)
    region = rng.choice(["a", "b", "c"], rows, p=[0.3, 0.3, 0.4] if shift else [0.5, 0.3, 0.2])
    mean = 3.0 * income + 2.0 * debt + np.where(region == "b", 2.0, 0.0)
    spread = 0.5 + 0.3 * income + np.where(region == "c", 1.0, 0.0)
    y_true = mean + rng.normal(0.0, spread)
    y_pred = mean + 0.1 * rng.normal(0.0, 1.0, rows)
    return pd.DataFrame({"income": income, "debt_ratio": debt, "region": region, "y_true": y_true, "y_pred": y_pred})


def _timestamps(rng: np.random.Generator, day: int, rows: int) -> pd.Series:
    return pd.Series(START + pd.Timedelta(days=day) + pd.to_timedelta(np.sort(rng.uniform(0, 86_399, rows)), "s"))


def write_scenarios(folder: Path, days: int, reference_rows: int, seed: int) -> dict[str, str]:
    """Each scenario's reference.parquet and analysis.parquet (days by timestamp); returns scenario -> kind."""
    rng = np.random.default_rng(seed)
    scenarios = {"binary_calibrated": "cbpe", "binary_overconfident": "cbpe", "regression": "dle"}
    for name in scenarios:

        def make(rows: int, shift: bool, name: str = name) -> pd.DataFrame:
            if name == "regression":
                return _regression(rng, rows, shift)
            return _classification(rng, rows, shift, 1.0 if name == "binary_calibrated" else 2.5)

        reference_days = 10
        reference = pd.concat(
            [
                make(reference_rows // reference_days, False).assign(
                    timestamp=_timestamps(rng, d - 100, reference_rows // reference_days)
                )
                for d in range(reference_days)
            ],
            ignore_index=True,
        )
        chunks = []
        for day in range(days):
            rows = int(rng.integers(600, 1401))
            chunks.append(make(rows, day >= days - days // 3).assign(timestamp=_timestamps(rng, day, rows)))
        (folder / name).mkdir(parents=True, exist_ok=True)
        reference.to_parquet(folder / name / "reference.parquet")
        pd.concat(chunks, ignore_index=True).to_parquet(folder / name / "analysis.parquet")
    (folder / "scenarios.json").write_text(json.dumps(scenarios))
    return scenarios


def _long(day: str, metric: str, value: float, se: float, lower: float, upper: float, realized: float) -> dict:
    return {
        "day": day,
        "metric": metric,
        "value": value,
        "sampling_error": se,
        "lower": lower,
        "upper": upper,
        "realized": realized,
    }


def _ours(day: str, metric: str, e: Any, realized: float) -> dict:
    """evmon's row: NannyML's columns and the empirical band's ends."""
    row = _long(day, metric, e.value, e.sampling_error, e.lower, e.upper, realized)
    return row | {"empirical_lower": e.empirical_lower, "empirical_upper": e.empirical_upper}


def run_evmon(folder: Path, name: str, kind: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """evmon's estimates for every day of a scenario, one row per (day, metric)."""
    from evmon.estimation.cbpe import ClassificationEstimator
    from evmon.estimation.dle import RegressionEstimator

    reference = pd.read_parquet(folder / name / "reference.parquet")
    analysis = pd.read_parquet(folder / name / "analysis.parquet")
    from evmon.estimation import conformal

    rows, info = [], {}
    groups = analysis.groupby(analysis["timestamp"].dt.strftime("%Y-%m-%d"))
    reference_days = reference["timestamp"].dt.strftime("%Y-%m-%d")
    # each day's empirical band learns from the days before it (labels arrive the next day): the track record
    record: dict[str, list[float]] = {}
    estimator: Any
    if kind == "cbpe":
        estimator = ClassificationEstimator.fit(
            reference["y_true"], reference["y_score"], THRESHOLD, days=reference_days
        )
        info["calibrated"] = estimator.calibrated
    else:
        estimator = RegressionEstimator.fit(
            reference[FEATURES],
            reference["y_true"],
            reference["y_pred"],
            numerical=["income", "debt_ratio"],
            categorical=["region"],
            days=reference_days,
        )
    for day, chunk in groups:
        if kind == "cbpe":
            estimates = estimator.estimate(chunk["y_score"], record)
            realized = estimator.realized(chunk["y_true"], chunk["y_score"])
        else:
            estimates = estimator.estimate(chunk[FEATURES], chunk["y_pred"], record)
            realized = estimator.realized(chunk["y_true"], chunk["y_pred"])
        for m, e in estimates.items():
            rows.append(_ours(str(day), m, e, realized[m]))
            record.setdefault(m, []).append(conformal.score(e.value, e.sampling_error, realized[m]))
    return pd.DataFrame(rows), info


REAL = "us_census_ma_employment"
REAL_DAY_ROWS = 600


def real_scenario(folder: Path) -> None:
    """Run in NannyML's venv: the real public data set NannyML ships (US census, Massachusetts, folktables:
    is a person employed; the model's scores come with it), cut into days of REAL_DAY_ROWS rows in the order
    shipped: 2015 the calibration set (out of sample for the model, trained on 2014), 2016-2018 the days."""
    import nannyml as nml

    reference, analysis, targets = nml.datasets.load_us_census_ma_employment_data()
    analysis = analysis.merge(targets, on="id")
    (folder / REAL).mkdir(parents=True, exist_ok=True)
    for name, frame in (("reference", reference), ("analysis", analysis)):
        day = np.arange(len(frame)) // REAL_DAY_ROWS
        out = pd.DataFrame(
            {
                "y_true": frame["employed"].astype(int).to_numpy(),
                "y_score": frame["predicted_probability"].astype(float).to_numpy(),
                "y_pred": frame["prediction"].astype(int).to_numpy(),
                "timestamp": START + pd.to_timedelta(day - (1000 if name == "reference" else 0), "D"),
            }
        )
        out.to_parquet(folder / REAL / f"{name}.parquet")
    scenarios = json.loads((folder / "scenarios.json").read_text())
    (folder / "scenarios.json").write_text(json.dumps(scenarios | {REAL: "cbpe"}))


def nannyml_side(folder: Path) -> None:
    """Run in NannyML's venv: its CBPE/DLE on each scenario; writes nannyml_<scenario>.parquet and .json."""
    os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"
    import nannyml as nml

    for name, kind in json.loads((folder / "scenarios.json").read_text()).items():
        reference = pd.read_parquet(folder / name / "reference.parquet")
        analysis = pd.read_parquet(folder / name / "analysis.parquet")
        started = time.perf_counter()
        if kind == "cbpe":
            estimator = nml.CBPE(
                problem_type="classification_binary",
                y_pred_proba="y_score",
                y_pred="y_pred",
                y_true="y_true",
                timestamp_column_name="timestamp",
                chunk_period="D",
                metrics=CBPE_METRICS,
            )
            metrics = CBPE_METRICS
            bounds = ("lower_confidence_boundary", "upper_confidence_boundary")
        else:
            estimator = nml.DLE(
                feature_column_names=FEATURES,
                y_pred="y_pred",
                y_true="y_true",
                timestamp_column_name="timestamp",
                chunk_period="D",
                metrics=DLE_METRICS,
            )
            metrics = DLE_METRICS
            bounds = ("lower_confidence_boundary", "upper_confidence_boundary")
        estimator.fit(reference)
        fitted = time.perf_counter() - started
        result = estimator.estimate(analysis).filter(period="analysis").to_df()
        rows = []
        for _, record in result.iterrows():
            day = pd.Timestamp(record[("chunk", "start_date")]).strftime("%Y-%m-%d")
            for m in metrics:
                rows.append(
                    _long(
                        day,
                        m,
                        record[(m, "value")],
                        record[(m, "sampling_error")],
                        record[(m, bounds[0])],
                        record[(m, bounds[1])],
                        record[(m, "realized")],
                    )
                )
        pd.DataFrame(rows).to_parquet(folder / f"nannyml_{name}.parquet")
        info = {"fit_seconds": fitted, "version": nml.__version__}
        if kind == "cbpe":
            info["calibrated"] = bool(estimator.needs_calibration)
        (folder / f"nannyml_{name}.json").write_text(json.dumps(info))


def compare(ours: pd.DataFrame, theirs: pd.DataFrame, relative: bool) -> tuple[list[str], dict[str, float]]:
    """Per metric, max / median over days of |evmon - NannyML| (relative to NannyML's for DLE); the max per value."""
    both = ours.merge(theirs, on=["day", "metric"], suffixes=("_evmon", "_nml"))
    lines, worst = [], {}
    for metric, group in both.groupby("metric", sort=False):
        cells = []
        for column in ("value", "sampling_error", "lower", "upper", "realized"):
            diff = (group[f"{column}_evmon"] - group[f"{column}_nml"]).abs()
            if relative:
                diff = diff / group[f"{column}_nml"].abs()
            shown = [f"{x:.2%}" if relative else f"{x:.1e}" for x in (diff.max(), diff.median())]
            cells.append(f"{column} {shown[0]} / {shown[1]}")
            if column == "value":
                worst[str(metric)] = float(diff.max())
        n = len(group)
        inside = {
            side: group[f"realized_{side}"].between(group[f"lower_{side}"], group[f"upper_{side}"])
            for side in ("evmon", "nml")
        }
        missed = {side: (group[f"value_{side}"] - group[f"realized_{side}"]).abs().median() for side in inside}
        same = int((inside["evmon"] == inside["nml"]).sum())
        lines.append(f"  {metric:9s} " + ", ".join(cells))
        lines.append(
            f"  {'':9s} realized inside the band: evmon {int(inside['evmon'].sum())}/{n}, "
            f"NannyML {int(inside['nml'].sum())}/{n}, same verdict {same}/{n}; "
            f"median |estimate - realized|: evmon {missed['evmon']:.4f}, NannyML {missed['nml']:.4f}"
        )
        lines.append(f"  {'':9s} {band_line(group.rename(columns=lambda c: c.removesuffix('_evmon')))}")
    return lines, worst


def band_line(days: pd.DataFrame) -> str:
    """Both bands side by side over the days: the share holding the realized value, and the median width."""
    cells, share = [], 0.0
    for name, low, high in (
        ("NannyML's +-3 SE", "lower", "upper"),
        ("empirical 95%", "empirical_lower", "empirical_upper"),
    ):
        share = float(days["realized"].between(days[low], days[high]).mean())
        cells.append(f"{name} {share:.0%} of days, median width {(days[high] - days[low]).median():.4f}")
    verdict = "met (>= 90%)" if share >= 0.9 else "NOT met (< 90%)"
    return f"bands: {'; '.join(cells)} -> empirical {verdict}"


def timings(seed: int) -> list[str]:
    """evmon's fit on 10,000 labelled rows and one 10,000-row day's estimate (best of 3)."""
    from evmon.estimation.cbpe import ClassificationEstimator
    from evmon.estimation.dle import RegressionEstimator

    rng = np.random.default_rng(seed + 1)
    lines = []
    ref, day = _classification(rng, 10_000, False, 2.5), _classification(rng, 10_000, True, 2.5)

    def best(call: Any) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        return min(times)

    cbpe = ClassificationEstimator.fit(ref["y_true"], ref["y_score"])
    fit = best(lambda: ClassificationEstimator.fit(ref["y_true"], ref["y_score"]))
    bare = best(lambda: ClassificationEstimator.fit(ref["y_true"], ref["y_score"], empirical=False))
    estimate = best(lambda: cbpe.estimate(day["y_score"]))
    lines.append(
        f"  CBPE: fit {fit * 1000:.1f} ms (calibrated={cbpe.calibrated}; without the empirical band's cross-fitting "
        f"{bare * 1000:.1f} ms, ratio {fit / bare:.1f}), one day's estimate {estimate * 1000:.1f} ms"
    )
    ref, day = _regression(rng, 10_000, False), _regression(rng, 10_000, True)
    kwargs: dict[str, Any] = {"numerical": ["income", "debt_ratio"], "categorical": ["region"]}
    dle = RegressionEstimator.fit(ref[FEATURES], ref["y_true"], ref["y_pred"], **kwargs)
    fit = best(lambda: RegressionEstimator.fit(ref[FEATURES], ref["y_true"], ref["y_pred"], **kwargs))
    bare = best(lambda: RegressionEstimator.fit(ref[FEATURES], ref["y_true"], ref["y_pred"], **kwargs, empirical=False))
    estimate = best(lambda: dle.estimate(day[FEATURES], day["y_pred"]))
    lines.append(
        f"  DLE:  fit {fit * 1000:.1f} ms (two 100-tree models; without the cross-fitting {bare * 1000:.1f} ms, "
        f"ratio {fit / bare:.1f}), one day's estimate {estimate * 1000:.1f} ms"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--reference-rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nannyml-python", default="/tmp/nml-venv/bin/python")
    parser.add_argument("--keep", type=Path, help="write the parquet files here and keep them")
    parser.add_argument("--real", action="store_true", help=f"also NannyML's real data set ({REAL})")
    parser.add_argument("--nannyml-side", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--nannyml-real", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.nannyml_real:
        real_scenario(args.nannyml_real)
        return
    if args.nannyml_side:
        nannyml_side(args.nannyml_side)
        return
    os.environ["DO_NOT_TRACK"] = "1"
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        scenarios = write_scenarios(folder, args.days, args.reference_rows, args.seed)
        print(
            f"{args.days} days of 600-1400 rows (the last {args.days // 3} covariate-shifted), "
            f"reference {args.reference_rows} rows, seed {args.seed}"
        )
        if args.real:
            subprocess.run([args.nannyml_python, __file__, "--nannyml-real", str(folder)], check=True)
            scenarios = json.loads((folder / "scenarios.json").read_text())
            print(f"and {REAL}: NannyML's real data set, days of {REAL_DAY_ROWS} rows (calibrated on 2015)")
        subprocess.run(
            [args.nannyml_python, __file__, "--nannyml-side", str(folder)], check=True, stdout=subprocess.DEVNULL
        )
        worst: dict[str, list[float]] = {"roc_auc": [], "mae": []}
        for name, kind in scenarios.items():
            started = time.perf_counter()
            ours, info = run_evmon(folder, name, kind)
            elapsed = time.perf_counter() - started
            theirs = pd.read_parquet(folder / f"nannyml_{name}.parquet")
            nml_info = json.loads((folder / f"nannyml_{name}.json").read_text())
            header = f"{name} ({kind.upper()}, NannyML {nml_info['version']}; evmon fit+estimate {elapsed:.2f} s"
            header += f", NannyML fit {nml_info['fit_seconds']:.2f} s"
            if kind == "cbpe":
                header += f"; calibrated: evmon {info['calibrated']}, NannyML {nml_info['calibrated']}"
            print(header + ")")
            scale = " (relative to NannyML's)" if kind == "dle" else ""
            print(f"  |evmon - NannyML| over the days, max / median{scale}:")
            lines, maxima = compare(ours, theirs, relative=kind == "dle")
            print("\n".join(lines))
            for metric, values in worst.items():
                if metric in maxima:
                    values.append(maxima[metric])
        auc, mae = max(worst["roc_auc"]), max(worst["mae"])
        print(f"goal: ROC AUC within 0.01 of NannyML's: max {auc:.1e} -> {'met' if auc <= 0.01 else 'NOT met'}")
        print(f"goal: DLE MAE within 2% of NannyML's: max {mae:.2%} -> {'met' if mae <= 0.02 else 'NOT met'}")
        print(f"evmon's cost on 10,000 rows (best of 3; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}):")
        for line in timings(args.seed):
            print(line)


if __name__ == "__main__":
    main()
