"""The executor of a batch, chosen once from `executor:` in projects.yaml (or --executor), by name.

Each executor lives in its own module and is imported only when chosen (Dask's is an extra).
"""

from __future__ import annotations

import importlib

from evmon.config.sections import ExecutorSettings
from evmon.run.executors.base import Executor
from evmon.run.executors.pool import DayProcessPool

EXECUTORS: dict[str, str] = {
    "local": "evmon.run.executors.local:LocalExecutor",
    "dask": "evmon.run.executors.dask:DaskExecutor",
}


def executor_for(settings: ExecutorSettings, workers: int, pool: DayProcessPool | None = None) -> Executor:
    """The executor `settings` name (`workers`: how many local worker processes, where that applies;
    `pool`: the warm processes they are taken from and given back to, for the local executor)."""
    module, _, name = EXECUTORS[settings.type].partition(":")
    cls = getattr(importlib.import_module(module), name)
    executor: Executor = cls.from_settings(settings, workers, pool)
    return executor
