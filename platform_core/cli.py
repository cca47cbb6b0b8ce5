"""`mesh`: the platform's command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.workspace import domain_directories, read_workspace
from platform_core.errors import PlatformError
from platform_core.governance.report import counts, table
from platform_core.scaffold.plan import PRODUCT_TEMPLATES, Plan, ScaffoldError, apply, plan_domain, plan_product
from platform_core.settings import Settings

PLATFORM_MODULE = "platform_core.definitions"  # the platform's own location: no descriptors to check


@click.group()
def main() -> None:
    """Self-service data mesh on Dagster: check, build and publish data products."""


_workspace = click.option("-w", "--workspace", "workspace", type=click.Path(dir_okay=False, path_type=Path),
                          default="workspace.yaml", show_default=True, help="The workspace listing the domains.")
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@main.command()
@_workspace
@_json
def check(workspace: Path, as_json: bool) -> None:
    """Load every descriptor of every domain and apply the governance policies; report every problem.

    Exit status 1 when any descriptor does not load or any policy of severity error is broken."""
    from platform_core.catalog.mesh import Mesh, loop_problems
    from platform_core.dagster.factory import dagster_problem, governance_context
    from platform_core.governance.evaluate import govern

    locations = _locations(workspace)
    settings = Settings.from_env()
    report: dict[str, object] = {"domains": [], "violations": [], "notes": []}
    loaded = []
    for location in locations:
        if location.domain is None and location.module != PLATFORM_MODULE:
            report["notes"].append(f"location {location.name!r} ({location.module or 'not a python_module'}) is "
                                   "not a domain (domains.<name>.definitions), so its descriptors are not checked")
    for directory in domain_directories(workspace):
        entry = {"domain": directory.name, "loaded": False, "problems": []}
        report["domains"].append(entry)
        try:
            domain = load_domain(directory)
        except PlatformError as error:
            entry["problems"] = [str(p) for p in error.problems]
            continue
        if refused := dagster_problem(domain):
            entry["problems"] = [f"does not load in Dagster: {refused}"]
            continue
        entry.update(loaded=True, products=len(domain.products), ports=sum(len(p.output_ports) for p in domain.products))
        loaded.append(domain)
        report["violations"] += [v.as_dict() for v in govern(domain, governance_context(domain, settings))]
    for loop in loop_problems(Mesh(tuple(loaded), ())):
        report["violations"].append({"severity": "error", "policy": "no_step_loops", "file": workspace.name, "field": "",
                                     "message": f"steps of the mesh depend on each other in a loop: {loop}",
                                     "hint": "one of the steps must not read the port it feeds"})
    errors, warnings = counts(report["violations"])
    failed = [d for d in report["domains"] if not d["loaded"]]
    report.update(errors=errors + sum(len(d["problems"]) for d in failed), warnings=warnings)
    click.echo(json.dumps(report, indent=2) if as_json else _check_text(report))
    if report["errors"]:
        sys.exit(1)


def _check_text(report: dict) -> str:
    lines = [f"note: {note}" for note in report["notes"]]
    for entry in report["domains"]:
        if entry["loaded"]:
            lines.append(f"ok  {entry['domain']}: {entry['products']} product(s), {entry['ports']} output port(s)")
        else:
            lines += [f"domain {entry['domain']!r} cannot be loaded:", *(f"  {p}" for p in entry["problems"])]
    if report["violations"]:
        lines += ["", table(report["violations"], ["severity", "policy", "file", "field", "message"],
                            {"message": 140})]
    domains, failed = len(report["domains"]), sum(not d["loaded"] for d in report["domains"])
    if report["errors"]:
        lines.append(f"{report['errors']} problem(s) found; {failed} of {domains} domain(s) did not load")
    else:
        lines.append(f"all {domains} domain(s) valid" + (f"; {report['warnings']} warning(s)" if report["warnings"] else ""))
    return "\n".join(lines)


@main.command()
@click.option("--domain", "domain_name", help="Only this domain.")
@_workspace
@_json
def policies(domain_name: str | None, workspace: Path, as_json: bool) -> None:
    """List the governance policies in force for each domain, and where each comes from."""
    from platform_core.governance.settings import describe, policies_in_force

    rows = []
    for directory in domain_directories(workspace):
        if domain_name and directory.name != domain_name:
            continue
        try:
            domain = load_domain(directory)
        except PlatformError as error:
            click.echo(str(error), err=True)
            sys.exit(1)
        in_force, problems = policies_in_force(domain)
        rows += [{"domain": domain.name, **describe(p)} for p in in_force]
        for problem in problems:
            click.echo(f"{problem} (a domain may make a global policy stricter, never weaker)", err=True)
    if domain_name and not rows:
        click.echo(f"no domain {domain_name!r} in {workspace}", err=True)
        sys.exit(1)
    shown = [{**row, "params": ", ".join(f"{k}={v}" for k, v in row["params"].items())} for row in rows]
    click.echo(json.dumps(rows, indent=2) if as_json else
               table(shown, ["domain", "name", "severity", "params", "source", "description"], {"description": 90}))


@main.command()
@click.argument("address", required=False)
@_workspace
@_json
def diff(address: str | None, workspace: Path, as_json: bool) -> None:
    """Show how the descriptors differ from the contracts last published, each change classified
    as breaking for consumers, breaking for the producer, or compatible. ADDRESS is a product
    (hr.overtime) or a port (hr.overtime.payroll_compensation); all products when left out."""
    from platform_core.governance.changes import changes
    from platform_core.governance.evaluate import published_contracts
    from platform_core.storage.warehouse import Warehouse

    published = published_contracts(Warehouse.from_settings(Settings.from_env()))
    rows = []
    for directory in domain_directories(workspace):
        try:
            domain = load_domain(directory)
        except PlatformError as error:
            click.echo(str(error), err=True)
            continue
        for product in domain.products:
            if address and not (address == product.product_address or address.startswith(product.product_address + ".")):
                continue
            contract = published(product.product_address)
            if contract is None:
                rows.append({"product": product.product_address, "port": None, "breaks": "-",
                             "change": "never published: nothing to compare with", "field": ""})
                continue
            for change in changes(contract, product):
                if address and address.count(".") == 2 and change.port != address.rsplit(".", 1)[1]:
                    continue
                rows.append({"product": product.product_address, "port": change.port, "breaks": change.breaks,
                             "change": change.what, "field": change.field})
    if address and not rows:
        click.echo(f"{address}: no such product or port in {workspace}", err=True)
        sys.exit(1)
    click.echo(json.dumps(rows, indent=2) if as_json else
               table(rows, ["product", "breaks", "change", "field"]) if rows else "no product to compare")


def _locations(workspace: Path) -> list:
    try:
        return read_workspace(workspace)
    except PlatformError as error:
        click.echo(str(error), err=True)
        sys.exit(1)


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
@click.option("--contact", required=True, help="Contact e-mail of the owning team (consumers write to it).")
@click.option("--description", help="One sentence on what the domain covers.")
@_template
@_dry_run
@_project
def new_domain(name: str, owner: str, contact: str, description: str | None, template: str, dry_run: bool,
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
