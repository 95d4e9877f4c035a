"""The `evmon` command: thin, every command calls the library and maps its errors.

Exit codes: 0 success; 1 a project-day (or another unit of work) failed; 2 bad input
(usage, projects.yaml, an unknown project); 3 busy: another process was running the
project-day, nothing was done (run it again later); 130 stopped with Ctrl-C. Messages go to
stderr as ``Error: ...``.

``-c/--config`` is accepted before the command (``evmon -c my.yaml validate``, as in
``docker compose -f``) and after it; after it wins.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

import evmon
from evmon.cli import alerting, days, serve, status, workspace
from evmon.cli.options import EXIT_INTERRUPTED, config_flag
from evmon.logs import LEVELS
from evmon.logs import setup as setup_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(evmon.__version__, prog_name="evmon")
@config_flag("The projects.yaml every command uses (env EVMON_CONFIG) [default: projects.yaml].", envvar="EVMON_CONFIG")
@click.option(
    "--log-level",
    type=click.Choice(LEVELS, case_sensitive=False),
    default="INFO",
    show_default=True,
    envvar="EVMON_LOG_LEVEL",
    help="The services' log lines on stderr (env EVMON_LOG_LEVEL).",
)
def cli(config_path: Path | None, log_level: str) -> None:
    """evmon: self-hosted ML monitoring on Evidently.

    Reads projects.yaml, writes one Evidently snapshot per project and day into the
    workspace (env EVMON_WORKSPACE overrides its path), and serves it.
    """
    setup_logging(log_level)


for command in (*days.COMMANDS, *status.COMMANDS, *serve.COMMANDS, *workspace.COMMANDS, *alerting.COMMANDS):
    cli.add_command(command)


def main() -> None:
    """The console script: click's own handling, but Ctrl-C is a stop (one line, exit 130), not an abort."""
    try:
        cli.main(prog_name="evmon", standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C (click turns KeyboardInterrupt into Abort)
        click.echo("stopped (Ctrl-C); whatever finished is kept, run the command again to go on", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
