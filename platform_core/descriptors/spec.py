"""The descriptor language: frozen, typed models of domains and data products.

`platform_core.descriptors.loader` turns YAML files into these models and adds the checks that need
more than one field (references, files on disk, SQL parse). Everything downstream (the
asset factory, the quality executors, the catalog) reads only these models.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Discriminator, Field, Tag, WithJsonSchema, model_validator
from pydantic.json_schema import SkipJsonSchema

from platform_core.descriptors.column_types import COLUMN_TYPE_SCHEMA, column_type
from platform_core.descriptors.metrics import Metric, MetricQuery
from platform_core.descriptors.rules import NotNull, Relationships, Rule, Unique
from platform_core.descriptors.types import ColumnName, Duration, Email, Identifier, Namespace, Spec, Team, Text
from platform_core.descriptors.types import Tag as TagText

# How sensitive a column is; personal data is about people, and reaches consumers masked.
Classification = Literal["public", "internal", "confidential", "personal"]
CLASSIFICATION_ORDER: tuple[str, ...] = ("public", "internal", "confidential", "personal")
# Who may read a port: any product of the mesh, or only the consumers it grants.
Access = Literal["public", "restricted"]
# What a consumer without a grant for personal data reads in a personal column.
Masking = Literal["hash", "null"]
Layer = Literal["bronze", "silver", "gold"]

ColumnType = Annotated[str, AfterValidator(column_type), WithJsonSchema(COLUMN_TYPE_SCHEMA)]


class Owner(Spec):
    team: Team
    name: Text | None = None
    contact: Email | None = None


_PRODUCT_ADDRESS = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


def _product_address(value: str) -> str:
    if not _PRODUCT_ADDRESS.match(value):
        raise ValueError(
            f"bad product address {value!r}: write it as <domain>.<product>, e.g. finance.overtime_accruals"
        )
    return value


ProductAddress = Annotated[str, AfterValidator(_product_address)]


class Consumer(Spec):
    """Who uses the product, and for what: a group of people, or another product of the mesh."""

    name: Identifier
    purpose: Text
    product: ProductAddress | None = None


class Grant(Spec):
    """Who may read a restricted port, or personal data in clear, and why: a consumer product of the
    mesh, or a group of people (people.yaml) reading through the serving database."""

    consumer: ProductAddress | None = None
    group: Identifier | None = None
    purpose: Text
    personal: bool = False  # reads personal columns in clear; without, they reach it masked

    @model_validator(mode="after")
    def _one_grantee(self) -> Grant:
        if (self.consumer is None) == (self.group is None):
            raise ValueError("give exactly one of consumer (a product, <domain>.<product>) or group (of people)")
        return self

    @property
    def grantee(self) -> str:
        """Who is granted, in words: the product's address, or `group <name>`."""
        return self.consumer or f"group {self.group}"


class RowFilter(Spec):
    """The rows a group of people reads of a served port: those whose `column` equals one of the
    person's values of `equals` (an attribute in people.yaml), e.g. a manager's own teams."""

    group: Identifier
    column: ColumnName
    equals: Identifier


class Column(Spec):
    name: ColumnName
    type: ColumnType
    description: Text
    nullable: bool = True
    unique: bool = False
    classification: Classification | None = None
    masking: Masking | None = None  # for personal columns: what consumers without a grant read (default hash)
    source: tuple[str, ...] = ()


class FileInput(Spec):
    """A raw source file of the domain, read as text columns so bronze keeps it as ingested."""

    kind: Literal["file"]
    name: Identifier
    path: str
    format: Literal["csv", "parquet"] = "csv"
    description: Text | None = None


_ADDRESS = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*(@[1-9][0-9]*)?$")


def _address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError(
            f"bad address {value!r}: write it as <domain>.<product>.<port>, e.g. hr.overtime.fact_overtime "
            "(with @<major> to pin a major version: hr.overtime.fact_overtime@1)"
        )
    return value


Address = Annotated[str, AfterValidator(_address)]


class ExpectedColumn(Spec):
    name: ColumnName
    type: ColumnType | None = None  # any type when left out


class Expectations(Spec):
    """What a consumer relies on in a port it reads: the producer's audit checks them before every
    publication, and a version that breaks one is not published (consumer-driven contracts)."""

    columns: tuple[ColumnName | ExpectedColumn, ...] = ()  # published, with this type when given
    quality: tuple[Rule, ...] = ()  # rules over the port's rows, run as the producer's own
    freshness: Duration | None = None  # the producer promises data at most this old (its SLA's fail_after)

    @property
    def expected_columns(self) -> tuple[ExpectedColumn, ...]:
        # a name alone was validated as a column name when the descriptor loaded: not again (that
        # asks DuckDB for its reserved words, and `mesh status` reads check names without DuckDB)
        return tuple(ExpectedColumn.model_construct(name=c) if isinstance(c, str) else c for c in self.columns)

    @property
    def columns_used(self) -> tuple[str, ...]:
        """Every column the expectations name."""
        named = [c.name for c in self.expected_columns] + [c for rule in self.quality for c in rule.columns_used]
        return tuple(dict.fromkeys(named))


def reading_purpose(
    port: Port | None, consumers: tuple[Consumer, ...], product: str | None = None, group: str | None = None
) -> str | None:
    """Why a consumer product, or a group of people, reads a port, as its producer says: its grant
    on the port (when the port is still there), else the producer's consumer entry for it."""
    grants = port.grants if port is not None else ()
    grant = next((g for g in grants if (g.group == group if group else g.consumer == product)), None)
    if grant is not None:
        return grant.purpose
    return next((c.purpose for c in consumers if (c.name == group if group else c.product == product)), None)


class PortInput(Spec):
    """Another product's output port, named by address and read from its current published snapshot."""

    kind: Literal["port"]
    name: Identifier
    address: Address
    purpose: Text | None = None  # why this product reads it: what the producer grants or lists
    description: Text | None = None
    expects: Expectations | None = None  # what this product relies on in the port: its producer checks it
    subscribe: bool = True  # its owner hears when the port breaks (not published, stale, nearing its sunset)

    @property
    def port_address(self) -> str:
        """The address without a pinned major version."""
        return self.address.split("@")[0]

    @property
    def major(self) -> int | None:
        """The major version the input is pinned to, if any."""
        return int(self.address.split("@")[1]) if "@" in self.address else None

    @property
    def product_address(self) -> str:
        return self.port_address.rsplit(".", 1)[0]

    @property
    def parts(self) -> tuple[str, str, str]:
        domain, product, port = self.port_address.split(".")
        return domain, product, port


Input = Annotated[FileInput | PortInput, Field(discriminator="kind")]


class Step(Spec):
    """One table of a layer: a SQL file or a pandas function, with its contract."""

    name: Identifier
    description: Text
    sql: str | None = None
    python: str | None = None
    query: MetricQuery | None = None  # the answer to a metric question, compiled by the platform
    depends_on: tuple[Identifier, ...] = ()
    columns: tuple[Column, ...] = Field(min_length=1)
    quality: tuple[Rule, ...] = ()
    # Kept only for the run that builds it (a temporary table), never in the compute database: a
    # later run that needs it builds it again. Saves writing a large intermediate layer to disk.
    ephemeral: bool = False

    @model_validator(mode="after")
    def _one_transform(self) -> Step:
        if [self.sql, self.python, self.query].count(None) != 2:
            raise ValueError(
                "give exactly one of sql (a .sql file), python (file.py:function) or query (a metric question)"
            )
        if self.python is not None and not re.match(r"^[\w./-]+\.py:[A-Za-z_]\w*$", self.python):
            raise ValueError(f"bad python transform {self.python!r}: write it as transforms.py:function")
        return self

    @property
    def engine(self) -> Literal["sql", "pandas"]:
        return "pandas" if self.python is not None else "sql"

    @cached_property
    def rules(self) -> tuple[Rule, ...]:
        """Declared rules plus those implied by column flags (`nullable: false`, `unique: true`)."""
        return self._own_rules()

    @cached_property
    def nullability(self) -> tuple[Rule, ...]:
        """The `not_null` rules that `nullable: false` implies: run by the step's `schema` check, each
        with its own result there, rather than as a check each (a Dagster check costs events)."""
        return tuple(rule for rule in self._implied if isinstance(rule, NotNull))

    @cached_property
    def checked_rules(self) -> tuple[Rule, ...]:
        """The rules that are a check of their own: every rule but the implied nullability."""
        return tuple(rule for rule in self.rules if not any(rule is n for n in self.nullability))

    @cached_property
    def _implied(self) -> tuple[Rule, ...]:
        """The rules the column flags imply, but for those the step declares itself under the same name."""
        implied: list[Rule] = []
        for column in self.columns:
            if not column.nullable:
                implied.append(NotNull(type="not_null", column=column.name))
            if column.unique:
                implied.append(Unique(type="unique", columns=(column.name,)))
        declared = {rule.check_name for rule in self.quality}
        return tuple(rule for rule in implied if rule.check_name not in declared)

    def _own_rules(self) -> tuple[Rule, ...]:
        return self._implied + self.quality


class Expectation(Spec):
    """A consumer's expectations of a port, as its producer runs them: set by the loader from the
    consumers' descriptors (platform_core.descriptors.mesh_index), never written in the port's own."""

    consumer: ProductAddress
    asking: str  # the consumer's owner, to talk to
    expects: Expectations

    @property
    def check_name(self) -> str:
        """The check of its columns and freshness: `expected_by_finance__overtime_accruals`."""
        return "expected_by_" + self.consumer.replace(".", "__")

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Its rules, named after the consumer: `expected_by_finance__overtime_accruals__not_null_hours`."""
        return tuple(r.model_copy(update={"name": f"{self.check_name}__{r.check_name}"}) for r in self.expects.quality)


class Port(Step):
    """A published step: a gold table or a business view, readable by other domains and tools."""

    kind: Literal["table", "view"]
    classification: Classification | None = None  # a policy requires it: every port says how sensitive it is
    access: Access = "public"
    grants: tuple[Grant, ...] = ()
    serve: bool = True  # published to the serving database too, for people and their BI tools
    row_filters: tuple[RowFilter, ...] = ()  # in the serving database: the rows each listed group reads
    # what consumers expect of it, set by the loader; checked before publishing, never part of its contract
    expected: SkipJsonSchema[tuple[Expectation, ...]] = Field(default=(), exclude=True)

    @model_validator(mode="after")
    def _kept(self) -> Port:
        if self.ephemeral:
            raise ValueError("a port is published and kept: it cannot be ephemeral")
        return self

    @cached_property
    def rules(self) -> tuple[Rule, ...]:
        """Its own rules, then those its consumers expect."""
        return self._own_rules() + tuple(r for e in self.expected for r in e.rules)

    def column_classification(self, column: Column) -> Classification:
        return column.classification or self.classification or "internal"

    @property
    def effective_classification(self) -> Classification:
        """The most sensitive level of the port and its columns: what a reader is exposed to."""
        levels = [self.classification or "internal", *(c.classification for c in self.columns if c.classification)]
        return max(levels, key=CLASSIFICATION_ORDER.index)

    @property
    def personal_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if self.column_classification(c) == "personal")

    def grant(self, consumer: str) -> Grant | None:
        """The grant of product `consumer` (`<domain>.<product>`), if it has one."""
        return next((g for g in self.grants if g.consumer == consumer), None)

    @property
    def group_grants(self) -> tuple[Grant, ...]:
        """The grants to groups of people, who read the port through the serving database."""
        return tuple(g for g in self.grants if g.group is not None)


class Layers(Spec):
    bronze: tuple[Step, ...] = ()
    silver: tuple[Step, ...] = ()
    gold: tuple[Step, ...] = ()
    # whole layers whose steps live only for the run (`ephemeral: [bronze, silver]`); ports are kept
    ephemeral: tuple[Literal["bronze", "silver", "gold"], ...] = ()


class TimeWindowFreshness(Spec):
    fail_after: Duration
    warn_after: Duration | None = None

    @model_validator(mode="after")
    def _order(self) -> TimeWindowFreshness:
        if self.warn_after is not None and self.warn_after >= self.fail_after:
            raise ValueError("warn_after must be shorter than fail_after")
        return self


class CronFreshness(Spec):
    cron: str
    timezone: str = "UTC"
    lower_bound: Duration


def _freshness_kind(value: object) -> str:
    keys = value.keys() if isinstance(value, dict) else vars(value) if hasattr(value, "__dict__") else ()
    return "cron" if "cron" in keys else "time_window"


class Sla(Spec):
    freshness: Annotated[
        Annotated[TimeWindowFreshness, Tag("time_window")] | Annotated[CronFreshness, Tag("cron")],
        Discriminator(_freshness_kind),
    ]


class Schedule(Spec):
    cron: str
    timezone: str = "UTC"
    enabled: bool = True


class PreviousMajor(Spec):
    """The previous major version, published beside the current one until its sunset: its ports
    whose contract the current version broke, each made from the current version's tables."""

    version: Text
    sunset: date
    ports: tuple[Port, ...] = ()

    @property
    def major(self) -> int | None:
        return major_of(self.version)


SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def major_of(version: str) -> int | None:
    """The major number of a semantic version, or None for a version that is not one."""
    match = SEMVER.match(version)
    return int(match[1]) if match else None


def versioned(port: str, major: int) -> str:
    """The name a previous major's port is built and published under: `payroll_compensation__v1`."""
    return f"{port}__v{major}"


_VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _variable(value: str) -> str:
    if not _VARIABLE.match(value):
        raise ValueError(f"bad environment variable name {value!r}: upper-case letters, digits and _ (MESH_HR_SLACK)")
    return value


Variable = Annotated[str, AfterValidator(_variable)]


class Webhook(Spec):
    """A chat channel a domain's alerts go to: its incoming-webhook URL is a secret, read from the
    environment variable named here, never written in a descriptor."""

    name: Identifier
    url_variable: Variable
    format: Literal["slack", "teams", "json"] = "slack"


class DomainAlerts(Spec):
    """Where a domain's alerts go besides its products' owners: its chat channels."""

    webhooks: tuple[Webhook, ...] = ()


class ProductAlerts(Spec):
    """Who hears when the product's promise breaks, besides its owner's contact."""

    to: tuple[Email, ...] = ()  # more addresses
    webhooks: tuple[Identifier, ...] | None = None  # the domain's channels by name; None: all of them


class Product(Spec):
    name: Namespace
    domain: Namespace
    title: Text
    description: Text
    owner: Owner
    version: Text  # semantic versioning, as a policy requires
    status: Literal["draft", "active", "deprecated", "retired"]
    sunset: date | None = None  # for a deprecated product: the day it stops being published
    previous: PreviousMajor | None = None
    consumers: tuple[Consumer, ...] = ()
    tags: tuple[TagText, ...] = ()
    inputs: tuple[Input, ...] = ()
    layers: Layers = Layers()
    output_ports: tuple[Port, ...] = Field(min_length=1)
    metrics: tuple[Metric, ...] = ()  # defined once here, answered the same on every surface
    sla: Sla | None = None
    schedule: Schedule | None = None
    alerts: ProductAlerts | None = None

    # Set by the loader, never written in a descriptor: where the product lives. Its folder holds its
    # SQL and transforms; `descriptor` names its file there; file inputs are read from `data_root`;
    # `mesh` is the MeshIndex it was loaded in (platform_core.descriptors.mesh_index).
    directory: SkipJsonSchema[Path] = Field(default=Path("."), exclude=True)
    descriptor: SkipJsonSchema[str] = Field(default="product.yaml", exclude=True)
    data_root: SkipJsonSchema[Path] = Field(default=Path("."), exclude=True)
    mesh: SkipJsonSchema[Any] = Field(default=None, exclude=True)

    @property
    def descriptor_path(self) -> Path:
        return self.directory / self.descriptor

    @property
    def major(self) -> int | None:
        return major_of(self.version)

    @property
    def previous_ports(self) -> tuple[Port, ...]:
        """The previous major's ports, named as they are built and published (`<port>__v<major>`)."""
        if self.previous is None or self.previous.major is None:
            return ()
        return tuple(p.model_copy(update={"name": versioned(p.name, self.previous.major)}) for p in self.previous.ports)

    @property
    def published_ports(self) -> tuple[Port, ...]:
        return self.output_ports + self.previous_ports

    @property
    def published_tables(self) -> tuple[str, ...]:
        """Every table a whole publication writes: each port, and the masked copy of each with
        personal columns (platform_core.governance.access)."""
        return tuple(
            sorted(
                [p.name for p in self.published_ports]
                + [f"{p.name}__masked" for p in self.published_ports if p.personal_columns]
            )
        )

    @property
    def steps(self) -> tuple[tuple[str, Step], ...]:
        """Every buildable node in declaration order, with its layer; ports (of the previous major
        too) are gold."""
        layered = [(layer, step) for layer in ("bronze", "silver", "gold") for step in getattr(self.layers, layer)]
        return tuple(layered) + tuple(("gold", port) for port in self.published_ports)

    @cached_property
    def ephemeral_steps(self) -> frozenset[str]:
        """The steps kept only for the run that builds them: marked so, or in a layer marked so."""
        return frozenset(
            step.name
            for layer, step in self.steps
            if not isinstance(step, Port) and (step.ephemeral or layer in self.layers.ephemeral)
        )

    def step(self, name: str) -> Step:
        for _, step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def input(self, name: str) -> FileInput | PortInput | None:
        return next((i for i in self.inputs if i.name == name), None)

    @property
    def port_inputs(self) -> tuple[PortInput, ...]:
        return tuple(i for i in self.inputs if isinstance(i, PortInput))

    def reads(self, step: Step) -> tuple[str, ...]:
        """What a step reads: its dependencies, and the port inputs its `relationships` rules
        check values against (those are read, and governed, like any input)."""
        parents = [
            rule.to
            for rule in step.quality
            if isinstance(rule, Relationships)
            and isinstance(self.input(rule.to), PortInput)
            and rule.to not in step.depends_on
        ]
        return tuple(step.depends_on) + tuple(dict.fromkeys(parents))

    @property
    def product_address(self) -> str:
        return f"{self.domain}.{self.name}"

    def address(self, port: str) -> str:
        return f"{self.domain}.{self.name}.{port}"

    def key_path(self, step: str) -> tuple[str, str, str]:
        """The asset key of a step, as a path: an address maps 1:1 to a key."""
        return self.domain, self.name, step


class PolicySetting(Spec):
    """A domain's use of a policy (`domain.yaml`, `policies:`): a global one made stricter (a
    higher threshold, warn made error), or one of its own (`name:` and a policy kind to `use:`).
    Other keys are the policy's parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)

    use: Identifier
    name: Identifier | None = None
    severity: Literal["error", "warn"] | None = None

    @property
    def params(self) -> dict[str, object]:
        return dict(self.model_extra or {})


class Domain(Spec):
    name: Namespace
    title: Text
    description: Text
    owner: Owner
    policies: tuple[PolicySetting, ...] = ()
    alerts: DomainAlerts | None = None
    products: SkipJsonSchema[tuple[Product, ...]] = ()
    directory: SkipJsonSchema[Path] = Field(default=Path("."), exclude=True)
    mesh: SkipJsonSchema[Any] = Field(default=None, exclude=True)  # set by the loader, as a product's
