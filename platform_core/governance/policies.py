"""Policies as code: the rules every product of the mesh follows, each small, named and documented.

A policy kind is a check over one product (and what it reads); a policy in force is a kind
with a severity and parameters. The global set below applies to every domain; a domain may
make one stricter (a higher threshold, `warn` made `error`) or add policies of its own
(platform_core.governance.settings), never weaken a global `error` one.

Each kind's parameters say which way is stricter, so a domain's setting can be judged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from platform_core.descriptors.addresses import AddressError, Contract
from platform_core.descriptors.files import display_path
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.sensitivity import Sensitivity
from platform_core.descriptors.spec import CLASSIFICATION_ORDER, PortInput, Product, major_of
from platform_core.governance.changes import breaking_for_consumers
from platform_core.governance.readers import USAGE_WINDOW, Usage
from platform_core.governance.requests import request_for

Severity = Literal["error", "warn"]
Stricter = Literal["higher", "lower", "more", "less"]  # for numbers; for lists: more items, or fewer


@dataclass(frozen=True)
class Finding:
    """What a policy found wrong with a product: the field, in words; the port it is about, if one."""

    field: str
    message: str
    port: str | None = None
    change: str = ""  # the exact entries someone else must add (a producer, for a consumer), when known


@dataclass(frozen=True)
class Context:
    """What policies may look at beyond the product itself."""

    today: date
    published: Callable[[str], dict | None] = lambda product: None  # the contract a product was last published under
    # products of the mesh reading a port (address, major version) at that major
    consumers_of: Callable[[str, int | None], list[str]] = lambda address, major: []
    # the groups of people people.yaml declares; None when the mesh has no people.yaml, and an empty
    # set also when it cannot be read (mesh check reports its problems)
    groups: Callable[[], frozenset[str] | None] = lambda: None
    # who reads a product's ports (declared consumers, and reads recorded in the last `days`);
    # None where the mesh's readers are not known: changes are then judged by the contract alone
    usage: Callable[[str, int], Usage | None] = lambda product, days: None
    # whether a port has been published, and its reads recorded, for at least the last `days`
    watched: Callable[[str, int], bool] = lambda address, days: False

    def producer(self, product: Product, address: str) -> Contract | None:
        try:
            return MeshIndex.of(product).contract(address)
        except AddressError:
            return None  # an unknown producer is the loader's error, not a policy's


@dataclass(frozen=True)
class Param:
    default: object
    stricter: Stricter
    doc: str


# A policy kind's check: the findings of one product, given the policy's parameters.
Check = Callable[[Product, Context, Mapping[str, object]], Iterator[Finding]]


@dataclass(frozen=True)
class PolicyKind:
    name: str
    description: str
    hint: str
    check: Check
    params: Mapping[str, Param] = field(default_factory=dict)
    scope: Literal["product", "mesh"] = "product"  # "mesh": only `mesh check` sees every domain at once


KINDS: dict[str, PolicyKind] = {}


def kind(
    name: str,
    description: str,
    hint: str,
    params: Mapping[str, Param] | None = None,
    scope: Literal["product", "mesh"] = "product",
) -> Callable[[Check], Check]:
    """Register a policy kind: the decorated function yields its findings for one product."""

    def register(check: Check) -> Check:
        KINDS[name] = PolicyKind(name, description, hint, check, params or {}, scope)
        return check

    return register


# --- the kinds ----------------------------------------------------------------------------------


@kind(
    "owner_contact",
    "Every product names its owning team and a contact address.",
    "add owner: {team: <slug>, name: <team name>, contact: <e-mail>} to the product",
)
def _owner_contact(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    if not product.owner.contact:
        yield Finding("owner.contact", "no contact: consumers cannot reach the owning team")


@kind(
    "useful_descriptions",
    "Products, ports and port columns are described at a useful length.",
    "say what the product is for, what a row of the port is, what the column means",
    {
        "product": Param(40, "higher", "characters a product's description has at least"),
        "port": Param(20, "higher", "characters a port's description has at least"),
        "column": Param(10, "higher", "characters a port column's description has at least"),
    },
)
def _useful_descriptions(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    if len(product.description) < _count(params, "product"):
        yield Finding("description", f"{len(product.description)} characters, fewer than {params['product']}")
    for i, port in enumerate(product.output_ports):
        if len(port.description) < _count(params, "port"):
            yield Finding(
                f"output_ports[{i}].description",
                f"{len(port.description)} characters, fewer than {params['port']}",
                port.name,
            )
        for j, column in enumerate(port.columns):
            if len(column.description) < _count(params, "column"):
                yield Finding(
                    f"output_ports[{i}].columns[{j}].description",
                    f"{column.name}: {len(column.description)} characters, fewer than {params['column']}",
                    port.name,
                )


def _count(params: Mapping[str, object], name: str) -> int:
    """A numeric parameter as a whole number of characters."""
    value = params[name]
    assert isinstance(value, int | float)  # a number, as its default: the domain's settings hold it to that
    return int(value)


@kind(
    "port_classification",
    "Every port says how sensitive it is (public, internal, confidential, personal); "
    "its columns inherit it unless they say otherwise.",
    "add classification: public | internal | confidential | personal to the port",
)
def _port_classification(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    for i, port in enumerate(product.output_ports):
        if port.classification is None:
            yield Finding(f"output_ports[{i}].classification", "not classified", port.name)


@kind(
    "personal_data_protected",
    "Personal columns are only in restricted ports, or declare how they are masked for consumers without a grant.",
    "make the port access: restricted, or give the column masking: hash | null",
)
def _personal_data_protected(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    for i, port in enumerate(product.output_ports):
        if port.access == "restricted":
            continue
        for j, column in enumerate(port.columns):
            if port.column_classification(column) == "personal" and column.masking is None:
                yield Finding(
                    f"output_ports[{i}].columns[{j}].masking",
                    f"{column.name} is personal data in a public port, and says not how it is masked",
                    port.name,
                )


@kind(
    "classification_follows_data",
    "A column made from a personal column is personal too, and a port made from a restricted port "
    "is restricted: sensitivity follows the data through each step's SQL, into other domains too.",
    "classify the column personal (readers without a grant then get it masked), make the port "
    "access: restricted, or do not publish the column",
)
def _classification_follows_data(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    sensitivity = Sensitivity(product)
    for i, port in enumerate(product.output_ports):
        personal = sensitivity.personal(port.name)
        for j, column in enumerate(port.columns):
            origins = sorted(o for o in personal[column.name] if o != f"{port.name}.{column.name}")
            if origins and port.column_classification(column) != "personal":
                yield Finding(
                    f"output_ports[{i}].columns[{j}].classification",
                    f"{port.name}.{column.name} carries {', '.join(origins)}, personal data, but is classified "
                    f"{port.column_classification(column)}",
                    port.name,
                )
        restricted = sorted({o for found in sensitivity.restricted(port.name).values() for o in found})
        if restricted and port.access != "restricted":
            yield Finding(
                f"output_ports[{i}].access",
                f"{port.name} carries columns of {', '.join(restricted)}, a restricted port, but is not restricted",
                port.name,
            )


@kind(
    "sla_and_schedule",
    "Every product past draft commits to a freshness SLA and is built on a schedule (a draft "
    "gets the platform's default freshness).",
    'add sla: {freshness: {fail_after: 26h}} and schedule: {cron: "0 6 * * *", timezone: Europe/Paris}',
)
def _sla_and_schedule(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    if product.status == "draft":
        return
    if product.sla is None:
        yield Finding("sla", "no freshness SLA")
    if product.schedule is None:
        yield Finding("schedule", "no schedule")


@kind(
    "semver_version",
    "Products are versioned with semantic versioning (major.minor.patch).",
    "write the version as 1.0.0; a change that breaks consumers raises the major number",
)
def _semver_version(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    if major_of(product.version) is None:
        yield Finding("version", f"{product.version!r} is not a semantic version")


@kind(
    "consumers_declared",
    "Every input from another domain says its purpose, and its producer lists the "
    "consuming product among its consumers.",
    "give the input a purpose, and ask the producer's owner to add {name, product, purpose} to its consumers",
)
def _consumers_declared(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    for i, source in enumerate(product.inputs):
        if not isinstance(source, PortInput) or source.parts[0] == product.domain:
            continue
        if not source.purpose:
            yield Finding(f"inputs[{i}].purpose", f"{source.address} is read with no purpose said")
        producer = ctx.producer(product, source.product_address)
        if producer is not None and not any(c.product == product.product_address for c in producer.consumers):
            request = request_for(product, source)
            yield Finding(
                f"inputs[{i}].address",
                f"{producer.product} does not list {product.product_address} among "
                f"its consumers; ask {producer.asking}",
                change=request.text(display_path(request.producer_file)) if request else "",
            )


def _lifecycle(product: Product, ctx: Context) -> Iterator[tuple[int, str, date | None, str]]:
    """Each port input that reads something deprecated: (input, what, sunset, what replaces it)."""
    for i, source in enumerate(product.inputs):
        if not isinstance(source, PortInput):
            continue
        producer = ctx.producer(product, source.product_address)
        if producer is None:
            continue
        if producer.status == "deprecated":
            yield i, f"{producer.product} is deprecated", producer.sunset, "a product that replaces it"
        previous = producer.previous
        if source.major is not None and previous is not None and source.major == previous.major:
            yield (
                i,
                f"{source.address} is major {source.major} of {producer.product}, deprecated since {producer.version}",
                previous.sunset,
                f"{source.port_address}@{producer.major}",
            )


@kind(
    "no_sunset_passed",
    "No product reads a deprecated product or major version past its sunset date, nor "
    "publishes a previous major past its own.",
    "move the input to the current major (or the replacing product); remove `previous` once its sunset passed",
)
def _no_sunset_passed(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    for i, what, sunset, instead in _lifecycle(product, ctx):
        if sunset is not None and sunset < ctx.today:
            yield Finding(f"inputs[{i}].address", f"{what}, and its sunset {sunset} has passed: read {instead}")
    if product.previous is not None and product.previous.sunset < ctx.today:
        yield Finding(
            "previous.sunset",
            f"the previous major ({product.previous.version}) was to stop being published on {product.previous.sunset}",
        )


@kind(
    "deprecated_inputs",
    "A product reading something deprecated is warned, with what replaces it and when.",
    "move the input before the sunset date",
)
def _deprecated_inputs(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    for i, what, sunset, instead in _lifecycle(product, ctx):
        if sunset is None or sunset >= ctx.today:
            yield Finding(f"inputs[{i}].address", f"{what}; read {instead}" + (f" before {sunset}" if sunset else ""))


@kind(
    "breaking_changes_need_major",
    "A change that breaks consumers (a column removed or renamed, a type narrowed, a column made "
    "nullable, a guarantee loosened) comes with a new major version. A port or column that no "
    "declared consumer reads and nobody read in the usage window may change without one.",
    "raise the major version (and keep the previous major published with `previous` until its consumers move)",
    {
        "usage_days": Param(
            USAGE_WINDOW.days, "higher", "days of recorded reads that count: a column read in them is relied on"
        )
    },
)
def _breaking_changes_need_major(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    published = ctx.published(product.product_address)
    if published is None or major_of(str(published.get("version"))) != product.major:
        return
    breaking = breaking_for_consumers(published, product)  # by the contract first: who reads what is asked
    usage = ctx.usage(product.product_address, _count(params, "usage_days")) if breaking else None  # only then
    if usage is not None:
        breaking = breaking_for_consumers(published, product, usage)
    for change in breaking:
        # judged by use, a change names who reads it; one judged by the contract (a metric, the SLA), the
        # products that read what it changes
        port = f"{product.product_address}.{change.port or change.metric}"
        readers = change.readers or ", ".join(
            ctx.consumers_of(port, product.major) if change.port or change.metric else []
        )
        broken = f"; it would break {readers}" if readers else ""
        yield Finding(change.field, f"{change.what} (published as {published.get('version')}){broken}", change.port)


@kind(
    "unused_ports",
    "Every published port, and every column of it, has a reader: a consumer product that declares it, "
    "or reads recorded in the last `days` (runs, people through the serving database, Warehouse.read).",
    "ask whether anyone still needs it: deprecate the port, drop the column in the next major, or tell "
    "its intended consumers where it is (mesh usage shows who reads what)",
    {"days": Param(USAGE_WINDOW.days, "lower", "days a port or column may go unread before it is flagged")},
)
def _unused_ports(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    days = _count(params, "days")
    watched = [(i, p) for i, p in enumerate(product.output_ports) if ctx.watched(product.address(p.name), days)]
    usage = ctx.usage(product.product_address, days) if watched else None
    if usage is None:
        return
    for i, port in watched:
        readers = usage.readers(product.address(port.name))
        if not readers:
            yield Finding(f"output_ports[{i}]", f"{port.name}: no reader in the last {days} days", port.name)
            continue
        read = {c for r in readers for c in r.columns}
        unread = [c.name for c in port.columns if c.name not in read]
        if unread:
            yield Finding(
                f"output_ports[{i}].columns",
                f"{port.name}: nobody read {', '.join(unread)} in the last {days} days",
                port.name,
            )


@kind(
    "no_step_loops",
    "No step depends on its own output through other products' ports.",
    "break the loop: one of the steps must not read the port it feeds",
    scope="mesh",
)
def _no_step_loops(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    return iter(())  # seen only with the whole mesh: `mesh check` and the platform's catalog


# --- kinds for a domain's own policies -----------------------------------------------------------


@kind(
    "required_tags",
    "Every product carries the given tags.",
    "add the tags to the product's tags",
    {"tags": Param([], "more", "tags every product must carry")},
)
def _required_tags(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    tags = params["tags"]
    assert isinstance(tags, list)  # a list of text, as its default: the domain's settings hold it to that
    missing = [t for t in tags if t not in product.tags]
    if missing:
        yield Finding("tags", f"missing {', '.join(missing)}")


@kind(
    "max_classification",
    "No port holds data more sensitive than the given level.",
    "publish less sensitive data, or move the port to a domain that may hold it",
    {"level": Param("personal", "lower", "the most sensitive classification a port may hold")},
)
def _max_classification(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    limit = CLASSIFICATION_ORDER.index(str(params["level"]))
    for i, port in enumerate(product.output_ports):
        if CLASSIFICATION_ORDER.index(port.effective_classification) > limit:
            yield Finding(
                f"output_ports[{i}]", f"holds {port.effective_classification} data, above {params['level']}", port.name
            )


def _named_groups(product: Product) -> Iterator[tuple[str, str, str]]:
    """Each group of people a port's grants and row filters name: (field, port, group)."""
    for i, port in enumerate(product.output_ports):
        for j, grant in enumerate(port.grants):
            if grant.group is not None:
                yield f"output_ports[{i}].grants[{j}].group", port.name, grant.group
        for j, row_filter in enumerate(port.row_filters):
            yield f"output_ports[{i}].row_filters[{j}].group", port.name, row_filter.group


@kind(
    "groups_declared",
    "Groups of people that grants and row filters name are declared in people.yaml.",
    "declare the group in people.yaml (its name, description and owner), or correct its name",
)
def _groups_declared(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    named = list(_named_groups(product))
    declared = ctx.groups() if named else None
    for where, port, group in named:
        if declared is not None and group not in declared:
            known = ", ".join(sorted(declared)) or "none"
            yield Finding(where, f"no group {group!r} in people.yaml (groups: {known})", port)


@kind(
    "people_declared",
    "A mesh whose ports grant groups of people has a people.yaml that says who they are.",
    "add people.yaml beside workspace.yaml (docs/serving.md); until then nobody in those groups is served",
)
def _people_declared(product: Product, ctx: Context, params: Mapping[str, object]) -> Iterator[Finding]:
    named = list(_named_groups(product))
    if named and ctx.groups() is None:
        where, port, group = named[0]
        yield Finding(where, f"names group {group!r}, but the mesh has no people.yaml", port)


# --- the global set ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """A policy in force: a kind, its severity and parameters, and where it comes from."""

    name: str
    kind: PolicyKind
    severity: Severity
    params: Mapping[str, object]
    source: str  # "global", "global, tightened by domains/hr/domain.yaml", "domains/hr/domain.yaml"


GLOBAL: tuple[tuple[str, Severity], ...] = (
    ("owner_contact", "error"),
    ("useful_descriptions", "warn"),
    ("port_classification", "error"),
    ("personal_data_protected", "error"),
    ("classification_follows_data", "error"),
    ("sla_and_schedule", "error"),
    ("semver_version", "error"),
    ("consumers_declared", "error"),
    ("no_sunset_passed", "error"),
    ("deprecated_inputs", "warn"),
    ("breaking_changes_need_major", "error"),
    ("unused_ports", "warn"),
    ("no_step_loops", "error"),
    ("groups_declared", "error"),
    ("people_declared", "warn"),
)


def global_policies() -> list[Policy]:
    return [
        Policy(name, KINDS[name], severity, {k: p.default for k, p in KINDS[name].params.items()}, "global")
        for name, severity in GLOBAL
    ]
