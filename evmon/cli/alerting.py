"""`evmon alerting`: the alert routing files from projects.yaml's teams, owners and tags (or --check them)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from evmon.cli.options import EXIT_FAILED, config_option, handle_errors, load_config_file


@click.command("alerting")
@config_option
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a file differs from the generator (for CI).")
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=Path("."),
    show_default=True,
    help="The root of the evmon checkout holding grafana/ and prometheus/.",
)
@handle_errors
def alerting(config_path: Path, check: bool, root: Path) -> None:
    """Write Grafana's contact points and policies, Alertmanager's receivers and routes and its start
    script from teams:, and the rules' label lines from the projects' tag names."""
    from evmon.alerting import generate

    config = load_config_file(config_path)
    if check:
        stale = generate.check(config, root)
        for path in stale:
            click.echo(f"{path}: differs from the generator for {config_path} (run: evmon alerting)")
        if stale:
            sys.exit(EXIT_FAILED)
        click.echo(f"{config_path}: OK, {len(generate.FILES)} alerting files as the generator writes them")
        return
    written = generate.write(config, root)
    for path in written:
        click.echo(f"wrote {path}")
    if not written:
        click.echo(f"{config_path}: the alerting files were already as the generator writes them")


COMMANDS = (alerting,)
