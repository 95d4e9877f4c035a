"""The demo's traffic: the credit rows of the demo's days replayed against the model service.

The days are replayed in order, from a few clean days through the feature shift and the missing-values
spike to the outliers, then again: at 20 requests a second a demo day (about 600 rows) takes half a
minute, so the shift shows in the service's drift gauges within a minute or two of its first row.

`python -m evmon.demo.traffic --config projects.yaml --url http://127.0.0.1:8090 --rate 20`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from evmon.demo.data import CREDIT, CREDIT_FEATURES, EPISODE_DAYS_BEFORE_ANCHOR

REPLAYED = ("clean", "feature_shift", "clean", "missing_spike", "outlier_spike")


def replay_days(data_dir: Path) -> list[date]:
    """The demo days replayed, in order: clean, shift, clean again, missing values, outliers."""
    anchor = date.fromisoformat(json.loads((data_dir / "manifest.json").read_text())["anchor"])
    return [anchor - timedelta(days=n) for name in REPLAYED for n in EPISODE_DAYS_BEFORE_ANCHOR[name]]


def requests(data_dir: Path, days: list[date]) -> Iterator[dict[str, Any]]:
    """The requests of `days`, in order, forever."""
    while True:
        for day in days:
            frame = pd.read_parquet(data_dir / CREDIT / "daily" / f"{day.isoformat()}.parquet")
            for row in frame.itertuples(index=False):
                values = row._asdict()
                features = {c: values[c] for c in CREDIT_FEATURES if not math.isnan(values[c])}
                yield features | {"region": values["region"]}


async def drive(
    url: str, bodies: Iterator[dict[str, Any]], rate: float, total: int | None = None, limit: int = 64
) -> int:
    """POST `bodies` to url/score at `rate` a second (at most `limit` in flight); stop after `total`."""
    import httpx

    sent = 0
    slots = asyncio.Semaphore(limit)
    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        pending: set[asyncio.Task[None]] = set()

        async def one(body: dict[str, Any]) -> None:
            try:
                await client.post("/score", json=body)
            except httpx.HTTPError:
                pass  # the service is down or slow: the next request tries again
            finally:
                slots.release()

        for body in bodies:
            if total is not None and sent >= total:
                break
            delay = start + sent / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            task = asyncio.create_task(one(body))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
        await asyncio.gather(*pending)
    return sent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("projects.yaml"))
    parser.add_argument("--url", default="http://127.0.0.1:8090")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--total", type=int, default=None)
    args = parser.parse_args(argv)
    data_dir = args.config.parent / "demo_data"
    asyncio.run(drive(args.url, requests(data_dir, replay_days(data_dir)), args.rate, args.total))


if __name__ == "__main__":
    main()
