"""Load domain and product descriptors from YAML into specs, reporting every problem at once.

Loading has two passes. The first is pydantic's (types, unknown keys, required fields);
the second checks what needs the whole product or the disk: names, references, files,
the SQL parse, layer order. Both feed one `ProblemCollector`, so a domain team fixes a
descriptor in one round trip, each problem pointing at its file and field path.
"""

from __future__ import annotations

import ast
import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from platform_core.descriptors.addresses import AddressError
from platform_core.descriptors.column_types import duckdb_type, is_scalar
from platform_core.descriptors.cron import cron_problem
from platform_core.descriptors.files import FileProblem, display_path, read_text, read_yaml
from platform_core.descriptors.graphs import find_cycle
from platform_core.descriptors.mesh_index import (
    DOMAIN_FILE,
    PRODUCT_FILE,
    MeshIndex,
    ProductEntry,
    descriptor_data,
    product_folders,
)
from platform_core.descriptors.rules import RULES, AcceptedValues, Expression, MaxAge, Range, Relationships
from platform_core.descriptors.spec import (
    CronFreshness,
    Domain,
    Expectation,
    FileInput,
    PortInput,
    Product,
    Step,
    versioned,
)
from platform_core.descriptors.sql import bind_problem, expression_problem, parse_problem, undeclared_reads_problem
from platform_core.errors import PlatformError, Problem, ProblemCollector

# What the loader records on a spec; a descriptor that writes one of these keys is refused.
PLACEMENT_FIELDS = ("directory", "descriptor", "data_root", "mesh")
LAYER_ORDER = {"input": 0, "port": 0, "bronze": 1, "silver": 2, "gold": 3}
# The column types a rule can judge: range compares numbers, max_age the age of a date or time
# (`_step_problems` picks those rules by class, Range and MaxAge, so it can read their column).
RULE_COLUMN_TYPES = {
    "range": (("integer", "double", "decimal"), "a numeric column (integer, double or decimal)"),
    "max_age": (("date", "timestamp"), "a date or timestamp column"),
}


# --- pydantic errors as problems ---------------------------------------------------------

_TAGGED_UNIONS = set(RULES) | {"file", "port", "time_window", "cron"}


def _field_path(loc: tuple[Any, ...]) -> str:
    text = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in _TAGGED_UNIONS and i > 0:
            continue  # pydantic names the union member it tried; the user wrote no such key
        else:
            text += f".{part}" if text else str(part)
    return text


def _message(error: ErrorDetails) -> str:
    kind, loc = error["type"], error["loc"]
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}"
    if kind == "missing":
        return "missing required field"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "union_tag_invalid":
        ctx = error["ctx"]
        return f"unknown {ctx['discriminator'].strip(chr(39))} {ctx['tag']!r}: use one of {ctx['expected_tags']}"
    if kind == "union_tag_not_found":
        return f"missing {error['ctx']['discriminator']}"
    if kind == "too_short" and error.get("ctx", {}).get("min_length") == 1:
        return "must list at least one entry"
    message = error["msg"]
    if "input" in error and not isinstance(error["input"], (dict, list)):
        message += f", got {error['input']!r}"
    return message


def validation_problems(file: str, error: ValidationError) -> list[Problem]:
    errors = error.errors()
    # A list whose entries are invalid is also "too short" to pydantic; the entries' own errors say it better.
    nested = {e["loc"][:i] for e in errors for i in range(1, len(e["loc"]))}
    return [
        Problem(file, _field_path(e["loc"]), _message(e))
        for e in errors
        if not (e["type"] == "too_short" and e["loc"] in nested)
    ]


# --- products ------------------------------------------------------------------------------


def load_product(path: Path, domain_dir: Path, problems: ProblemCollector, index: MeshIndex) -> Product | None:
    """A product of the domain in `domain_dir` (where its file inputs are read) from its
    `product.yaml`, or None with its problems added."""
    data = read_yaml(path, problems)
    if data is None:
        return None
    where = display_path(path)
    if placed := sorted(set(PLACEMENT_FIELDS) & set(data)):
        problems.add(where, placed[0], f"unknown key {placed[0]!r}")
        return None
    try:
        product = Product.model_validate(data)
    except ValidationError as error:
        problems.extend(validation_problems(where, error))
        return None
    product = place(product, path, domain_dir, index)
    problems.extend(product_problems(product, where, domain_dir.name))
    return product


def read_product(entry: ProductEntry, index: MeshIndex) -> Product | None:
    """A product of the mesh as its descriptor says, placed but not checked against the rest of the
    mesh (None where the descriptor is not a valid product): what others ask of a consumer, such as
    which columns it reads, must not depend on whether the consumer still agrees with its producers."""
    data = descriptor_data(entry.file, index.layout == "components")
    if not isinstance(data, dict) or set(PLACEMENT_FIELDS) & set(data):
        return None
    try:
        product = Product.model_validate(data)
    except ValidationError:
        return None
    return place(product, entry.file, entry.data_root, index)


def place(product: Product, descriptor: Path, data_root: Path, index: MeshIndex) -> Product:
    """The product with where it lives: its descriptor, the folder its file inputs are read from,
    and its mesh; each of its ports with what its consumers expect of it."""
    placed = product.model_copy(
        update={"directory": descriptor.parent, "descriptor": descriptor.name, "data_root": data_root, "mesh": index}
    )
    expected = expectations_of(placed, index)
    if not expected:
        return placed
    update: dict[str, object] = {
        "output_ports": tuple(p.model_copy(update={"expected": expected.get(p.name, ())}) for p in placed.output_ports)
    }
    if placed.previous is not None and placed.previous.major is not None:
        major = placed.previous.major
        ports = tuple(
            p.model_copy(update={"expected": expected.get(versioned(p.name, major), ())}) for p in placed.previous.ports
        )
        update["previous"] = placed.previous.model_copy(update={"ports": ports})
    return placed.model_copy(update=update)


def expectations_of(product: Product, index: MeshIndex) -> dict[str, tuple[Expectation, ...]]:
    """What the mesh's consumers expect of each port of `product`, by the name it is published
    under (a consumer pinned to the previous major expects of `<port>__v<major>`). Expectations
    that do not validate are the consumer's loader's problem, not the producer's: left out here."""
    found: dict[str, list[Expectation]] = {}
    for consumer, address, expects, owner in index.expectations_on(product.product_address):
        try:
            expectation = Expectation(consumer=consumer, asking=_asking(consumer, owner), expects=expects)
        except ValidationError:
            continue
        port, pin = address.split("@")[0].rsplit(".", 1)[1], address.partition("@")[2]
        name = versioned(port, int(pin)) if pin and int(pin) != product.major else port
        found.setdefault(name, []).append(expectation)
    return {name: tuple(sorted(e, key=lambda x: x.consumer)) for name, e in found.items()}


def _asking(consumer: str, owner: object) -> str:
    """Who owns a consumer, in words: `Finance Data (finance-data@example.com)`."""
    if not isinstance(owner, dict):
        return f"the owner of {consumer}"
    who = str(owner.get("name") or f"team {owner.get('team')}")
    return f"{who} ({owner['contact']})" if owner.get("contact") else who


def product_problems(product: Product, where: str, domain: str | None = None) -> list[Problem]:
    """Checks that need the whole product and the files next to it; `domain` is the domain whose
    folder holds the product (a component has none: its folder is its own)."""
    found = ProblemCollector()
    folder = product.directory
    if domain is not None and product.name != folder.name:
        found.add(where, "name", f"product name {product.name!r} must match its folder {folder.name!r}")
    if domain is not None and product.domain != domain:
        found.add(where, "domain", f"product declares domain {product.domain!r} but lives in domain {domain!r}")

    layer_of: dict[str, str] = {}
    fields: dict[str, str] = {}
    for i, source in enumerate(product.inputs):
        kind = "input" if isinstance(source, FileInput) else "port"
        _claim_name(found, where, layer_of, fields, source.name, kind, f"inputs[{i}].name")
        if isinstance(source, FileInput):
            _file_input_problems(found, where, f"inputs[{i}]", source, product.data_root)
        else:
            _port_input_problems(found, where, f"inputs[{i}]", source, product)
    for layer, field, step in _steps_with_fields(product):
        _claim_name(found, where, layer_of, fields, step.name, layer, f"{field}.name")
    _port_name_problems(found, where, product)
    _row_filter_problems(found, where, product)
    _unique_names(found, where, "consumers", [c.name for c in product.consumers])
    if product.schedule is not None:
        _cron_problems(found, where, "schedule", product.schedule.cron, product.schedule.timezone)
    if product.sla is not None and isinstance(product.sla.freshness, CronFreshness):
        _cron_problems(found, where, "sla.freshness", product.sla.freshness.cron, product.sla.freshness.timezone)

    for layer, field, step in _steps_with_fields(product):
        _step_problems(found, where, field, layer, step, product, layer_of)
    if not any("duplicate name" in p.message for p in found.problems):  # a graph needs unique names
        _cycle_problems(found, where, product, fields)
    if product.metrics and not found.problems:  # metrics compile over ports that are sound
        from platform_core.descriptors.metric_checks import metric_problems  # sqlglot: only to validate

        metric_problems(found, where, product)
    return found.problems


def _steps_with_fields(product: Product) -> Iterator[tuple[str, str, Step]]:
    for layer in ("bronze", "silver", "gold"):
        for i, step in enumerate(getattr(product.layers, layer)):
            yield layer, f"layers.{layer}[{i}]", step
    for i, port in enumerate(product.output_ports):
        yield "gold", f"output_ports[{i}]", port
    for i, port in enumerate(product.previous_ports):
        yield "gold", f"previous.ports[{i}]", port


def _port_name_problems(found: ProblemCollector, where: str, product: Product) -> None:
    """The lake publishes `<port>__v<major>` and `<port>__masked` beside a port: its own name has no `__`."""
    named = [(f"output_ports[{i}]", p) for i, p in enumerate(product.output_ports)]
    named += [(f"previous.ports[{i}]", p) for i, p in enumerate(product.previous.ports if product.previous else ())]
    for field, port in named:
        if "__" in port.name:
            found.add(
                where,
                f"{field}.name",
                f"bad port name {port.name!r}: no '__' (the lake keeps it for <port>__v<major> and <port>__masked)",
            )
    if product.previous is None:
        return
    if product.previous.major is None:
        found.add(where, "previous.version", f"bad version {product.previous.version!r}: use semantic versioning")
    elif product.major is not None and product.previous.major >= product.major:
        found.add(
            where,
            "previous.version",
            f"the previous major ({product.previous.version}) must be below the current one ({product.version})",
        )


def _row_filter_problems(found: ProblemCollector, where: str, product: Product) -> None:
    """A row filter compares a column of its port; a port not served has none to apply."""
    for i, port in enumerate(product.output_ports):
        columns = {c.name for c in port.columns}
        for j, row_filter in enumerate(port.row_filters):
            field = f"output_ports[{i}].row_filters[{j}]"
            if row_filter.column not in columns:
                found.add(
                    where,
                    f"{field}.column",
                    f"unknown column {row_filter.column!r}; the port declares {', '.join(sorted(columns))}",
                )
            if not port.serve:
                found.add(where, field, "row filters apply in the serving database, and the port has serve: false")


def _claim_name(
    found: ProblemCollector,
    where: str,
    layer_of: dict[str, str],
    fields: dict[str, str],
    name: str,
    layer: str,
    field: str,
) -> None:
    if name in layer_of:
        found.add(where, field, f"duplicate name {name!r}, already used by {fields[name]}")
    else:
        layer_of[name], fields[name] = layer, field.rsplit(".", 1)[0]


def _unique_names(found: ProblemCollector, where: str, field: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            found.add(where, f"{field}[{i}].name", f"duplicate name {name!r}")
        seen.add(name)


def _cron_problems(found: ProblemCollector, where: str, field: str, cron: str, timezone: str) -> None:
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        found.add(where, f"{field}.timezone", f"unknown time zone {timezone!r}: use an IANA name such as Europe/Paris")
        return
    if problem := cron_problem(cron):
        found.add(where, f"{field}.cron", problem)


def _port_input_problems(found: ProblemCollector, where: str, field: str, source: PortInput, product: Product) -> None:
    domain, name, _ = source.parts
    if (domain, name) == (product.domain, product.name):
        found.add(where, f"{field}.address", f"{source.address} is in this product; depend on it by name")
        return
    try:
        MeshIndex.of(product).resolve(source.address)
    except AddressError as error:
        found.add(where, f"{field}.address", str(error))
    for i, rule in enumerate(source.expects.quality if source.expects else ()):
        if isinstance(rule, Relationships):
            found.add(
                where,
                f"{field}.expects.quality[{i}]",
                "a relationships rule checks this product's own steps against the port; expect rules over the "
                "port's own rows here (not_null, unique, accepted_values, range, row_count, max_age, expression)",
            )


def _located(
    found: ProblemCollector, where: str, field: str, base: Path, relative: str, inside: str, missing: str
) -> Path | None:
    """The file `relative` names under `base`, or None with the problem added: outside `base`
    (by `..`, an absolute path or a symlink), missing, or beyond reach of the file system."""
    try:
        path = (base / relative).resolve()
        if Path(relative).is_absolute() or not path.is_relative_to(base.resolve()):
            found.add(where, field, f"path {relative!r} must stay inside the {inside} folder")
        elif not path.is_file():
            found.add(where, field, f"{missing}: {relative}")
        else:
            return path
    except (OSError, ValueError) as error:  # a name too long, a NUL byte, a folder it may not enter
        found.add(where, field, f"path {relative[:100]!r} cannot be used: {getattr(error, 'strerror', None) or error}")
    return None


def _file_input_problems(found: ProblemCollector, where: str, field: str, source: FileInput, domain_dir: Path) -> None:
    _located(found, where, f"{field}.path", domain_dir, source.path, "domain", "file not found")


def _step_problems(
    found: ProblemCollector,
    where: str,
    field: str,
    layer: str,
    step: Step,
    product: Product,
    layer_of: Mapping[str, str],
) -> None:
    folder = product.directory
    if step.sql is not None:
        sql_path = _located(found, where, f"{field}.sql", folder, step.sql, "product", "SQL file not found")
        if sql_path is not None:
            try:
                sql = read_text(sql_path)
            except FileProblem as error:
                found.add(where, f"{field}.sql", f"{step.sql}: {error}")
            else:
                problem = parse_problem(sql) or undeclared_reads_problem(sql, step.depends_on)
                if problem:
                    found.add(where, f"{field}.sql", f"{step.sql}: {problem}")
    elif step.query is not None:
        from platform_core.descriptors.metric_checks import query_problem

        if problem := query_problem(product, step):
            found.add(where, f"{field}.query", problem)
    else:
        _python_problems(found, where, f"{field}.python", step.python or "", folder)

    for j, dep in enumerate(step.depends_on):
        dep_field = f"{field}.depends_on[{j}]"
        if dep == step.name:
            found.add(where, dep_field, f"{step.name!r} cannot depend on itself")
        elif dep not in layer_of:
            found.add(where, dep_field, f"unknown table {dep!r}; known: {', '.join(sorted(layer_of)) or 'none'}")
        elif layer_of[dep] == "input" and layer != "bronze":
            found.add(where, dep_field, f"raw input {dep!r} may only be read by a bronze step")
        elif LAYER_ORDER[layer_of[dep]] > LAYER_ORDER[layer]:
            found.add(where, dep_field, f"a {layer} step cannot read {dep!r} from the later {layer_of[dep]} layer")

    declared = {c.name: c.type for c in step.columns}
    _unique_names(found, where, f"{field}.columns", [c.name for c in step.columns])
    for j, column in enumerate(step.columns):
        if step.engine == "pandas" and not is_scalar(column.type):
            found.add(
                where,
                f"{field}.columns[{j}].type",
                f"{column.type} is a nested type, which only SQL steps produce; a pandas step's columns are scalars",
            )
    for j, column in enumerate(step.columns):
        for k, ref in enumerate(column.source):
            problem = _source_problem(ref, step, product)
            if problem:
                found.add(where, f"{field}.columns[{j}].source[{k}]", problem)
    seen_checks: set[str] = {"schema"}
    for j, rule in enumerate(step.quality):
        rule_field = f"{field}.quality[{j}]"
        if rule.check_name in seen_checks:
            found.add(where, f"{rule_field}.name", f"duplicate check name {rule.check_name!r}; give the rule a name")
        seen_checks.add(rule.check_name)
        for used in rule.columns_used:
            if used not in declared:
                found.add(
                    where, rule_field, f"unknown column {used!r}; the step declares {', '.join(sorted(declared))}"
                )
        if isinstance(rule, Relationships):
            _relationship_problems(found, where, rule_field, rule, step, product)
        if (
            isinstance(rule, AcceptedValues)
            and declared.get(rule.column, "boolean") != "boolean"
            and any(isinstance(v, bool) for v in rule.values)
        ):
            found.add(
                where,
                f"{rule_field}.values",
                f"{rule.column!r} is {declared[rule.column]}, but YAML reads "
                "true/false/yes/no/on/off unquoted as booleans: quote them ('yes')",
            )
        if isinstance(rule, Range | MaxAge) and rule.column in declared:  # RULE_COLUMN_TYPES' rules
            types, wanted = RULE_COLUMN_TYPES[rule.type]
            if not (is_scalar(declared[rule.column]) and declared[rule.column].startswith(types)):
                found.add(
                    where,
                    f"{rule_field}.column",
                    f"{rule.type} needs {wanted}; {rule.column!r} is {declared[rule.column]}",
                )
        if isinstance(rule, Expression):
            problem = expression_problem(rule.expression)
            if problem:
                found.add(where, f"{rule_field}.expression", problem)
            elif problem := bind_problem(rule.expression, {n: duckdb_type(t) for n, t in declared.items()}):
                found.add(where, f"{rule_field}.expression", f"does not fit the step's columns: {problem}")


def _python_problems(found: ProblemCollector, where: str, field: str, reference: str, folder: Path) -> None:
    file_name, function = reference.split(":")
    path = _located(found, where, field, folder, file_name, "product", "Python file not found")
    if path is None:
        return
    try:
        source = read_text(path)
        # compiled, not only parsed: what compiles here imports when the step runs
        compile(source, file_name, "exec", dont_inherit=True)
        tree = ast.parse(source)
    except FileProblem as problem:
        found.add(where, field, f"{file_name}: {problem}")
        return
    except SyntaxError as error:
        line = f" at line {error.lineno}" if error.lineno else ""
        found.add(where, field, f"{file_name}: Python syntax error{line}: {error.msg}")
        return
    except (ValueError, RecursionError, MemoryError) as error:  # nesting beyond what the compiler takes
        found.add(where, field, f"{file_name}: cannot be compiled: {type(error).__name__}: {error}")
        return
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    if function not in defined:
        found.add(where, field, f"{file_name} defines no function {function!r}")


def _source_problem(ref: str, step: Step, product: Product) -> str | None:
    match = re.match(r"^([a-z]\w*)\.([a-z]\w*)$", ref)
    if not match:
        return f"bad column source {ref!r}: write it as table.column"
    table, column = match.groups()
    if table not in step.depends_on:
        return f"column source {ref!r} names {table!r}, which is not in depends_on"
    source = product.input(table)
    if isinstance(source, FileInput):
        return None  # raw files have no contract to check against
    try:
        upstream = product.step(table) if source is None else MeshIndex.of(product).resolve(source.address).port
    except AddressError:
        return None  # already reported on the input itself
    if column not in {c.name for c in upstream.columns}:
        return f"column source {ref!r}: {table!r} has no column {column!r}"
    return None


def _relationship_problems(
    found: ProblemCollector, where: str, field: str, rule: Relationships, step: Step, product: Product
) -> None:
    ports = {p.name: p for p in product.output_ports}
    source = product.input(rule.to)
    if isinstance(source, PortInput):  # another product's port, read as the input is: with its access rules
        try:
            parent = MeshIndex.of(product).resolve(source.address).port
        except AddressError:
            return  # reported on the input itself
        if rule.field not in {c.name for c in parent.columns}:
            found.add(where, f"{field}.field", f"port {source.address} has no column {rule.field!r}")
    elif rule.to not in ports:
        found.add(
            where,
            f"{field}.to",
            f"relationships must point at an output port or a port input; {rule.to!r} "
            f"is neither (ports: {', '.join(sorted(ports))})",
        )
    elif rule.to not in step.depends_on:
        found.add(where, f"{field}.to", f"{rule.to!r} must be listed in depends_on so it is built first")
    elif rule.field not in {c.name for c in ports[rule.to].columns}:
        found.add(where, f"{field}.field", f"port {rule.to!r} has no column {rule.field!r}")


def _cycle_problems(found: ProblemCollector, where: str, product: Product, fields: Mapping[str, str]) -> None:
    graph = {step.name: set(step.depends_on) for _, step in product.steps}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycle = [*trail[trail.index(dep) :], dep] if dep in trail else [node, dep]
                found.add(where, f"{fields[node]}.depends_on", f"dependency cycle: {' -> '.join(cycle)}")
            elif dep in graph and dep not in state:
                visit(dep, [*trail, dep])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])


# --- domains -------------------------------------------------------------------------------


def load_domain(directory: Path | str, index: MeshIndex | None = None) -> Domain:
    """Load a domain folder and all its products; raise one PlatformError listing every problem.
    `index` is the mesh it belongs to (by default: its project's workspace, or its sibling folders).

    Nothing else ever escapes: whatever its files hold, a domain fails with the platform's
    error, and alone (mesh check, the catalog and its consumers go on)."""
    directory = Path(directory)
    try:
        return _load_domain(directory, index or MeshIndex.around(directory))
    except PlatformError:
        raise
    except Exception as error:
        raise PlatformError(
            [Problem(display_path(directory), "", f"cannot be loaded ({type(error).__name__}: {str(error)[:300]})")],
            f"domain {directory.name!r} cannot be loaded",
        ) from error


def _load_domain(directory: Path, index: MeshIndex) -> Domain:
    problems = ProblemCollector()
    domain = _read_domain(directory, problems, index)
    products = []
    try:
        folders = product_folders(directory)
    except OSError as error:
        problems.add(display_path(directory / "products"), "", f"cannot be read: {error.strerror or error}")
        folders = []
    for folder in folders:
        if (folder / PRODUCT_FILE).exists() and not (folder / PRODUCT_FILE).is_file():
            problems.add(display_path(folder / PRODUCT_FILE), "", "not a file")
            continue
        if not (folder / PRODUCT_FILE).is_file():
            # a product without its descriptor (or with product.yml) would otherwise vanish unnoticed
            found = ", ".join(sorted(p.name for p in folder.glob("*.y*ml"))) or "no YAML file"
            problems.add(display_path(folder), "", f"no {PRODUCT_FILE} in this product folder ({found})")
            continue
        product = load_product(folder / PRODUCT_FILE, directory, problems, index)
        if product is not None:
            products.append(product)
    problems.extend(product_loop_problems(directory.name, products))
    problems.extend(served_name_problems(products))
    if domain is not None:
        problems.extend(webhook_problems(domain, products))
    problems.raise_if_any(f"domain {directory.name!r} cannot be loaded")
    assert domain is not None
    return domain.model_copy(update={"products": tuple(products)})


def webhook_problems(domain: Domain, products: list[Product]) -> list[Problem]:
    """Products' alerts that name a webhook their domain does not declare."""
    declared = {w.name for w in domain.alerts.webhooks} if domain.alerts else set()
    return [
        Problem(
            display_path(product.descriptor_path),
            f"alerts.webhooks[{i}]",
            f"no webhook {name!r} in domain.yaml's alerts (webhooks: {', '.join(sorted(declared)) or 'none'})",
        )
        for product in products
        for i, name in enumerate(product.alerts.webhooks or () if product.alerts else ())
        if name not in declared
    ]


def product_loop_problems(domain: str, products: list[Product]) -> list[Problem]:
    """Products of one domain that read each other's ports, in a loop.

    A domain's products run in one Dagster run, each as one op that publishes the product
    whole; in a loop, Dagster would have to run one product twice within the run, publishing
    it in two parts. Across domains each run is its own location's, so no loop of this kind
    arises there (loops of steps are `mesh check`'s)."""
    # (a product addressing its own port is refused on that input already)
    needs = {
        p.name: {i.parts[1] for i in p.port_inputs if i.parts[0] == domain and i.parts[1] != p.name} for p in products
    }
    loop = find_cycle(needs)
    if not loop:
        return []
    first = next(p for p in products if p.name == loop[0])
    return [
        Problem(
            display_path(first.descriptor_path),
            "inputs",
            f"products of domain {domain!r} read each other's ports in a loop ({' -> '.join(loop)}): "
            "a run would have to build one of them twice and could not publish it whole; "
            "move the steps that close the loop into one product",
        )
    ]


def served_name_problems(products: list[Product]) -> list[Problem]:
    """Ports of one domain served under one name: the serving database has a schema per domain and a
    view per port, named as the port."""
    found: list[Problem] = []
    served: dict[str, str] = {}
    for product in products:
        for i, port in enumerate(product.output_ports):
            if not port.serve:
                continue
            if port.name in served and served[port.name] != product.name:
                found.append(
                    Problem(
                        display_path(product.descriptor_path),
                        f"output_ports[{i}].name",
                        f"{product.domain}.{served[port.name]} serves a port named {port.name!r} "
                        "already (the serving database names a view after its port): rename one, "
                        "or give one `serve: false`",
                    )
                )
            served.setdefault(port.name, product.name)
    return found


def _read_domain(directory: Path, problems: ProblemCollector, index: MeshIndex) -> Domain | None:
    path = directory / DOMAIN_FILE
    data = read_yaml(path, problems)
    if data is None:
        return None
    where = display_path(path)
    if placed := sorted({"products", *PLACEMENT_FIELDS} & set(data)):
        problems.add(where, placed[0], "unknown key; products are found in products/<name>/product.yaml")
        return None
    try:
        domain = Domain.model_validate(data).model_copy(update={"directory": directory, "mesh": index})
    except ValidationError as error:
        problems.extend(validation_problems(where, error))
        return None
    if domain.name != directory.name:
        problems.add(where, "name", f"domain name {domain.name!r} must match its folder {directory.name!r}")
    return domain


# --- components ------------------------------------------------------------------------------


def load_component(product: Product, descriptor: Path, index: MeshIndex) -> Product:
    """A product declared as a DataProduct component, its attributes already validated as a
    Product: placed in its folder (where its SQL, transforms and file inputs are), and checked as
    every product is; PlatformError listing every problem."""
    product = place(product, descriptor, descriptor.parent, index)
    problems = product_problems(product, display_path(descriptor))
    if problems:
        raise PlatformError(problems, f"data product {product.product_address} cannot be loaded")
    return product


__all__ = ["PlatformError", "display_path", "load_component", "load_domain", "load_product"]
