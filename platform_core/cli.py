"""`mesh`: the platform's command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from platform_core.errors import PlatformError
from platform_core.descriptors.loader import load_domain
from platform_core.scaffold.plan import PRODUCT_TEMPLATES, Plan, ScaffoldError, apply, plan_domain, plan_product
from platform_core.descriptors.workspace import domain_directories, read_workspace

PLATFORM_MODULE = "platform_core.definitions"  # the platform's own location: no descriptors to check


@click.group()
def main() -> None:
    """Self-service data mesh on Dagster: check, build and publish data products."""


@main.command()
@click.option("-w", "--workspace", "workspace", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default="workspace.yaml", show_default=True, help="The workspace listing the domains.")
def check(workspace: Path) -> None:
    """Load every descriptor of every domain in the workspace; report every problem."""
    from platform_core.catalog.mesh import Mesh, loop_problems
    from platform_core.dagster.factory import dagster_problem

    problems, failed, domains = 0, 0, []
    try:
        directories, locations = domain_directories(workspace), read_workspace(workspace)
    except PlatformError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    for location in locations:
        if location.domain is None and location.module != PLATFORM_MODULE:
            click.echo(f"note: location {location.name!r} ({location.module or 'not a python_module'}) is not a "
                       "domain (domains.<name>.definitions), so its descriptors are not checked")
    for directory in directories:
        try:
            domain = load_domain(directory)
        except PlatformError as error:
            problems, failed = problems + len(error.problems), failed + 1
            click.echo(str(error), err=True)
            continue
        refused = dagster_problem(domain)
        if refused:
            problems, failed = problems + 1, failed + 1
            click.echo(f"domain {domain.name!r} does not load in Dagster: {refused}", err=True)
            continue
        domains.append(domain)
        ports = sum(len(p.output_ports) for p in domain.products)
        click.echo(f"ok  {domain.name}: {len(domain.products)} product(s), {ports} output port(s)")
    for loop in loop_problems(Mesh(tuple(domains), ())):
        problems += 1
        click.echo(f"{workspace.name}: steps of the mesh depend on each other in a loop: {loop}", err=True)
    if problems:
        click.echo(f"{problems} problem(s) found; {failed} of {len(directories)} domain(s) did not load", err=True)
        sys.exit(1)
    click.echo(f"all {len(directories)} domain(s) valid")


@main.group()
def new() -> None:
    """Scaffold a new domain or product from the platform's templates."""


_project = click.option("--project", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".",
                        show_default=True, help="The project folder (holding workspace.yaml and domains/).")
_dry_run = click.option("--dry-run", is_flag=True, help="List what would be written, and write nothing.")
_template = click.option("--template", type=click.Choice(PRODUCT_TEMPLATES), default="simple", show_default=True,
                         help="simple: one published table; dimensional: two dimensions, a fact and a business view.")


@new.command("domain")
@click.argument("name")
@click.option("--owner", required=True, help="Owning team, as team:<slug> (for example team:zeta-ops).")
@click.option("--contact", help="Contact e-mail of the owning team.")
@click.option("--description", help="One sentence on what the domain covers.")
@_template
@_dry_run
@_project
def new_domain(name: str, owner: str, contact: str | None, description: str | None, template: str, dry_run: bool,
               project: Path) -> None:
    """Create domains/NAME with an example product and register it in workspace.yaml."""
    _run(lambda: plan_domain(project.resolve(), name, owner, contact, description, template), dry_run,
         f"domain {name} is ready: see domains/{name}/README.md for the next steps.")


@new.command("product")
@click.argument("domain")
@click.argument("name")
@_template
@_dry_run
@_project
def new_product(domain: str, name: str, template: str, dry_run: bool, project: Path) -> None:
    """Add product NAME to an existing DOMAIN."""
    _run(lambda: plan_product(project.resolve(), domain, name, template), dry_run,
         f"product {domain}.{name} is ready: edit domains/{domain}/products/{name}/product.yaml, then run mesh check.")


def _run(make_plan, dry_run: bool, done: str) -> None:
    try:
        plan: Plan = make_plan()
        if dry_run:
            click.echo("would write:")
            click.echo("\n".join(f"  {path}" for path in plan.paths()))
            return
        apply(plan)
    except (ScaffoldError, PlatformError) as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo("wrote:")
    click.echo("\n".join(f"  {path}" for path in plan.paths()))
    click.echo(done)
