"""The descriptor language: frozen, typed models of domains and data products.

`platform_core.descriptors.loader` turns YAML files into these models and adds the checks that need
more than one field (references, files on disk, SQL parse). Everything downstream (the
asset factory, the quality executors, the catalog) reads only these models.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Discriminator, Field, Tag, model_validator

from platform_core.descriptors.column_types import column_type
from platform_core.descriptors.rules import Rule, Unique, NotNull
from platform_core.descriptors.types import ColumnName, Duration, Email, Identifier, Namespace, SemVer, Spec, Team, Text
from platform_core.descriptors.types import Tag as TagText

Classification = Literal["public", "internal", "confidential", "restricted"]
CLASSIFICATION_ORDER: tuple[str, ...] = ("public", "internal", "confidential", "restricted")
Layer = Literal["bronze", "silver", "gold"]

ColumnType = Annotated[str, AfterValidator(column_type)]


class Owner(Spec):
    team: Team
    name: Text | None = None
    contact: Email | None = None


class Consumer(Spec):
    name: Identifier
    purpose: Text


class Column(Spec):
    name: ColumnName
    type: ColumnType
    description: Text
    nullable: bool = True
    unique: bool = False
    classification: Classification | None = None
    source: tuple[str, ...] = ()


class FileInput(Spec):
    """A raw source file of the domain, read as text columns so bronze keeps it as ingested."""

    kind: Literal["file"]
    name: Identifier
    path: str
    format: Literal["csv", "parquet"] = "csv"
    description: Text | None = None


_ADDRESS = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


def _address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError(f"bad address {value!r}: write it as <domain>.<product>.<port>, e.g. hr.overtime.fact_overtime")
    return value


Address = Annotated[str, AfterValidator(_address)]


class PortInput(Spec):
    """Another product's output port, named by address and read from its current published snapshot."""

    kind: Literal["port"]
    name: Identifier
    address: Address
    description: Text | None = None

    @property
    def parts(self) -> tuple[str, str, str]:
        domain, product, port = self.address.split(".")
        return domain, product, port


Input = Annotated[Union[FileInput, PortInput], Field(discriminator="kind")]


class Step(Spec):
    """One table of a layer: a SQL file or a pandas function, with its contract."""

    name: Identifier
    description: Text
    sql: str | None = None
    python: str | None = None
    depends_on: tuple[Identifier, ...] = ()
    columns: tuple[Column, ...] = Field(min_length=1)
    quality: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _one_transform(self) -> Step:
        if (self.sql is None) == (self.python is None):
            raise ValueError("give exactly one of sql (a .sql file) or python (file.py:function)")
        if self.python is not None and not re.match(r"^[\w./-]+\.py:[A-Za-z_]\w*$", self.python):
            raise ValueError(f"bad python transform {self.python!r}: write it as transforms.py:function")
        return self

    @property
    def engine(self) -> Literal["sql", "pandas"]:
        return "sql" if self.sql is not None else "pandas"

    @cached_property
    def rules(self) -> tuple[Rule, ...]:
        """Declared rules plus those implied by column flags (`nullable: false`, `unique: true`)."""
        implied: list[Rule] = []
        for column in self.columns:
            if not column.nullable:
                implied.append(NotNull(type="not_null", column=column.name))
            if column.unique:
                implied.append(Unique(type="unique", columns=(column.name,)))
        declared = {rule.check_name for rule in self.quality}
        return tuple(rule for rule in implied if rule.check_name not in declared) + self.quality


class Port(Step):
    """A published step: a gold table or a business view, readable by other domains and tools."""

    kind: Literal["table", "view"]
    classification: Classification = "internal"

    def column_classification(self, column: Column) -> Classification:
        return column.classification or self.classification

    @property
    def effective_classification(self) -> Classification:
        """The most sensitive level of the port and its columns: what a reader is exposed to."""
        levels = [self.classification, *(c.classification for c in self.columns if c.classification)]
        return max(levels, key=CLASSIFICATION_ORDER.index)


class Layers(Spec):
    bronze: tuple[Step, ...] = ()
    silver: tuple[Step, ...] = ()
    gold: tuple[Step, ...] = ()


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
        Union[Annotated[TimeWindowFreshness, Tag("time_window")], Annotated[CronFreshness, Tag("cron")]],
        Discriminator(_freshness_kind),
    ]


class Schedule(Spec):
    cron: str
    timezone: str = "UTC"
    enabled: bool = True


class Product(Spec):
    name: Namespace
    domain: Namespace
    title: Text
    description: Text
    owner: Owner
    version: SemVer
    status: Literal["draft", "active", "deprecated", "retired"]
    consumers: tuple[Consumer, ...] = ()
    tags: tuple[TagText, ...] = ()
    inputs: tuple[Input, ...] = ()
    layers: Layers = Layers()
    output_ports: tuple[Port, ...] = Field(min_length=1)
    sla: Sla | None = None
    schedule: Schedule | None = None

    # Set by the loader: where the descriptor lives, for SQL files, transforms and error messages.
    directory: Path = Field(default=Path("."), exclude=True)

    @property
    def steps(self) -> tuple[tuple[str, Step], ...]:
        """Every buildable node in declaration order, with its layer; ports are gold."""
        layered = [(layer, step) for layer in ("bronze", "silver", "gold") for step in getattr(self.layers, layer)]
        return tuple(layered) + tuple(("gold", port) for port in self.output_ports)

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

    def address(self, port: str) -> str:
        return f"{self.domain}.{self.name}.{port}"


class Domain(Spec):
    name: Namespace
    title: Text
    description: Text
    owner: Owner
    products: tuple[Product, ...] = ()
    directory: Path = Field(default=Path("."), exclude=True)
