"""evmon.run.executors.registry: the executor of a batch, chosen once from `executor:` (or --executor)."""

from __future__ import annotations

from evmon.config.sections import ExecutorSettings, executor_from_option
from evmon.run.executors.dask import DaskExecutor
from evmon.run.executors.local import LocalExecutor
from evmon.run.executors.registry import EXECUTORS, executor_for


def test_every_executor_projects_yaml_accepts_has_a_module_and_no_other() -> None:
    accepted = set(ExecutorSettings.model_fields["type"].annotation.__args__)  # type: ignore[union-attr]
    assert set(EXECUTORS) == accepted


def test_local_by_default_with_the_workers_asked_for() -> None:
    executor = executor_for(ExecutorSettings(), workers=3)
    assert type(executor) is LocalExecutor and executor.workers == 3


def test_a_dask_address_chooses_the_cluster_without_connecting_yet() -> None:
    settings = executor_from_option("dask://127.0.0.1:1")  # nothing listens there: connecting is run's business
    executor = executor_for(settings, workers=2)
    assert type(executor) is DaskExecutor and executor.settings.address == "tcp://127.0.0.1:1"
