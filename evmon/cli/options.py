"""What every `evmon` command shares: exit codes, error mapping, option types, the config option."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from evmon.errors import ConfigError, EvmonError, UnknownProjectError

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_BUSY = 3
EXIT_INTERRUPTED = 130
DEFAULT_CONFIG = Path("projects.yaml")
F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn library exceptions into one message and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            _fail(str(exc), EXIT_BAD_INPUT)
        except UnknownProjectError as exc:
            _fail(str(exc), EXIT_BAD_INPUT)
        except EvmonError as exc:
            _fail(str(exc), EXIT_FAILED)

    return wrapper  # type: ignore[return-value]


class DayParam(click.ParamType):
    """A YYYY-MM-DD date."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date; expected YYYY-MM-DD", param, ctx)


DAY = DayParam()
_CONFIG_TYPE = click.Path(path_type=Path, dir_okay=False)


class ExecutorParam(click.ParamType):
    """local, or dask://HOST:PORT (a Dask scheduler)."""

    name = "local|dask://HOST:PORT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from evmon.config.sections import ExecutorSettings, executor_from_option

        if isinstance(value, ExecutorSettings) or value is None:
            return value
        if str(value).strip() == "":  # EVMON_EXECUTOR set but empty: projects.yaml's executor
            return None
        try:
            return executor_from_option(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


metrics_port_option = click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve Prometheus /metrics on this port [default: projects.yaml metrics.<service>_port, else off].",
)
metrics_host_option = click.option(
    "--metrics-host",
    default=None,
    help="The address /metrics binds [default: projects.yaml metrics.host, 127.0.0.1]; 0.0.0.0 in a container.",
)

executor_option = click.option(
    "--executor",
    type=ExecutorParam(),
    default=None,
    envvar="EVMON_EXECUTOR",
    help="Where the days are computed: local processes, or a Dask cluster [default: projects.yaml's executor, "
    "else local] (env EVMON_EXECUTOR).",
)


def config_flag(help_text: str, **extra: Any) -> Callable[[F], F]:
    return click.option("-c", "--config", "config_path", type=_CONFIG_TYPE, default=None, help=help_text, **extra)


def config_option(func: F) -> F:
    """The command's -c/--config; without it, the one given before the command, EVMON_CONFIG, ./projects.yaml."""

    @config_flag("The projects.yaml to use [default: -c before the command, env EVMON_CONFIG, ./projects.yaml].")
    @functools.wraps(func)
    def wrapper(*args: Any, config_path: Path | None = None, **kwargs: Any) -> Any:
        if config_path is None:
            given = click.get_current_context().find_root().params.get("config_path")
            config_path = given if given is not None else DEFAULT_CONFIG
        return func(*args, config_path=config_path, **kwargs)

    return wrapper  # type: ignore[return-value]


def load_config_file(config_path: Path) -> Any:
    from evmon.config.loader import load_config

    return load_config(config_path)
