"""The demo's feature shift shows online within minutes: its rows replayed through the real service (uvicorn,
its own process) and monitor, faster than the demo sends them, with a smaller window than the demo's.

The demo's traffic replays clean days, then the shift (ExternalRiskEstimate 12 points lower). Here the same
rows go in chunks; after each, the monitor is given time to recompute its drift, and the live gauges are
read off /metrics as Prometheus reads them. With the window full of clean rows ExternalRiskEstimate's PSI
stays below its threshold (the project's own, 0.2); from the shift's first row it passes it once the shifted
rows are at most MAX_SHARE of the window. The PSI depends on that share, not on the window's size (a larger
window is less noisy): in the demo's 1,000-row window, 0.6 is 600 rows, 30 s at its 20 requests a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import pandas as pd

from evmon.config.loader import load_config
from evmon.demo.data import CREDIT, CREDIT_LIVE, EPISODE_DAYS_BEFORE_ANCHOR
from evmon.demo.traffic import drive, replay_days, requests
from tests.conftest import REPO
from tests.online.helpers import demo_service
from tests.prometheus.tools import samples, scrape, value

COLUMN = "ExternalRiskEstimate"
WINDOW = 300  # the demo's is 1,000: a third of the rows to send (the service answers ~100 a second here)
CHUNK = 25  # rows of the shift sent between two readings of the gauges (100 of the clean days)
MAX_SHARE = 0.6  # of the window, shifted when the gauge has passed its threshold at the latest
DRIFT_EVERY_S = 0.05


def gauges(url: str) -> tuple[float, float, float]:
    """Rows the monitor took, ExternalRiskEstimate's window PSI, and whether it counts as drifted."""
    found = samples(scrape(url + "/metrics"))
    labels = {"model": CREDIT_LIVE, "version": "2026-01"}
    try:
        psi = value(found, "evmon_online_psi", **labels, column=COLUMN)
        drifted = value(found, "evmon_online_column_drifted", **labels, column=COLUMN)
    except KeyError:
        psi = drifted = float("nan")  # no drift computed yet
    return value(found, "evmon_online_rows_total", **labels), psi, drifted


def settled(url: str, sent: int) -> tuple[float, float]:
    """The PSI and drifted gauges once the monitor took all `sent` rows and recomputed its drift since."""
    deadline = time.monotonic() + 20
    while (taken := gauges(url)[0]) < sent:
        assert time.monotonic() < deadline, f"the monitor took {taken} of {sent} rows"
        time.sleep(0.05)
    time.sleep(6 * DRIFT_EVERY_S)  # the monitor's thread recomputes at least every DRIFT_EVERY_S
    _, psi, drifted = gauges(url)
    return psi, drifted


def send(url: str, bodies: Iterator[dict[str, Any]], n: int) -> None:
    """The next `n` requests, 1,000 a second at most (the demo sends 20)."""
    assert asyncio.run(drive(url, islice(bodies, n), rate=1000)) == n


def test_the_feature_shift_passes_its_threshold_within_minutes_and_clean_days_do_not(
    tmp_path: Path, demo_dir: Path
) -> None:
    began = time.monotonic()
    demo = load_config(REPO / "projects.yaml").project(CREDIT_LIVE)
    assert demo.online is not None and demo.presets.data_drift is not None
    demo_window = demo.online.window_rows
    assert demo_window > WINDOW
    threshold = demo.presets.data_drift.columns[COLUMN].threshold  # the project's own (psi, 0.2)
    assert threshold == 0.2
    data = demo_dir / "demo_data"
    days = replay_days(data)
    clean = len(EPISODE_DAYS_BEFORE_ANCHOR["clean"])  # the traffic's first days, then the shift
    assert days[clean] == days[0] + timedelta(days=6)  # anchor - 14: the shift's first day
    clean_rows = sum(len(pd.read_parquet(data / CREDIT / "daily" / f"{d}.parquet")) for d in days[:clean])
    assert clean_rows > 2 * WINDOW

    online = {"window_rows": WINDOW, "drift_every_s": DRIFT_EVERY_S, "row_log": {"path": str(tmp_path / "rows")}}
    with demo_service(tmp_path, demo_dir, online) as (url, _process):
        bodies = requests(data, days)
        send(url, bodies, WINDOW)
        sent, clean_psi = WINDOW, []
        while sent < 2 * WINDOW:  # the window full of clean rows: what the demo's gauge shows between episodes
            send(url, bodies, 4 * CHUNK)
            sent += 4 * CHUNK
            psi, drifted = settled(url, sent)
            clean_psi.append(psi)
            assert (psi < threshold, drifted) == (True, 0.0), (sent, psi)
        for _ in islice(bodies, clean_rows - sent):  # the rest of the clean days, not sent: the window holds
            pass  # clean rows already; the shift's first row is next
        shifted = 0
        while shifted < WINDOW:
            send(url, bodies, CHUNK)
            shifted += CHUNK
            psi, drifted = settled(url, sent + shifted)
            if drifted == 1.0:
                break
    assert len(clean_psi) >= 3 and max(clean_psi) < threshold
    assert psi >= threshold and drifted == 1.0, f"still {psi:.3f} after {shifted} rows of the shift"
    assert shifted <= MAX_SHARE * WINDOW, f"the shift passed {threshold} after {shifted} of {WINDOW} rows"
    at_demo = shifted / WINDOW * demo_window  # the same share of the demo's window
    print(
        f"{time.monotonic() - began:.1f} s; clean PSI at most {max(clean_psi):.3f}; the shift passed {threshold} "
        f"({psi:.3f}) after {shifted} of {WINDOW} rows: {at_demo:.0f} rows, {at_demo / 20:.0f} s in the demo"
    )
