"""`mesh`: the platform's command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from platform_core.errors import PlatformError
from platform_core.loader import load_domain
from platform_core.workspace import domain_directories


@click.group()
def main() -> None:
    """Self-service data mesh on Dagster: check, build and publish data products."""


@main.command()
@click.option("-w", "--workspace", "workspace", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default="workspace.yaml", show_default=True, help="The workspace listing the domains.")
def check(workspace: Path) -> None:
    """Load every descriptor of every domain in the workspace; report every problem."""
    failures = 0
    directories = domain_directories(workspace)
    for directory in directories:
        try:
            domain = load_domain(directory)
        except PlatformError as error:
            failures += len(error.problems)
            click.echo(str(error), err=True)
            continue
        ports = sum(len(p.output_ports) for p in domain.products)
        click.echo(f"ok  {domain.name}: {len(domain.products)} product(s), {ports} output port(s)")
    if failures:
        click.echo(f"{failures} problem(s) found in {len(directories)} domain(s)", err=True)
        sys.exit(1)
    click.echo(f"all {len(directories)} domain(s) valid")
