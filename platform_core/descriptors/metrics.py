"""Metrics, declared once beside the ports they read: the descriptor's `metrics:`.

A simple metric aggregates one expression of one port (`sum`, `count`, `count_distinct`, `avg`,
`min`, `max`), optionally over the rows a filter keeps; it may be grouped by the port's columns, by
columns of the ports its `relationships` rules point to (`dim_employee.department`), and by its time
dimension at the grains it allows. A ratio divides one metric by another, a derived metric combines
metrics with arithmetic. Metrics of other products are named by address (`hr.overtime.overtime_cost`).
`platform_core.metrics.compiler` compiles every question to SQL; this module only says what a
metric is.

```yaml
metrics:
  - name: overtime_cost
    label: Overtime cost
    description: Value of the approved overtime, in the entity's currency.
    port: fact_overtime
    aggregation: sum
    expression: amount
    filter: "status = 'approved'"
    time: work_date
    dimensions: [entity_id, currency, reason_code, dim_employee.department]
  - {name: cost_per_employee, type: ratio, label: ..., description: ...,
     numerator: overtime_cost, denominator: employees}
```
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, Discriminator, Field, Tag, model_validator

from platform_core.descriptors.grains import GRAINS, Grain
from platform_core.descriptors.types import ColumnName, Identifier, Spec, Text

Aggregation = Literal["sum", "count", "count_distinct", "avg", "min", "max"]
# The name a metric's time dimension takes in every answer, whatever its column is called.
METRIC_TIME = "metric_time"

_DIMENSION = re.compile(r"^(?:[a-z][a-z0-9_]*\.)?_?[a-z][a-z0-9_]*$")
_REFERENCE = re.compile(r"^(?:[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.)?[a-z][a-z0-9_]*$")


def _dimension(value: str) -> str:
    if not _DIMENSION.match(value):
        raise ValueError(
            f"bad dimension {value!r}: name a column of the port (entity_id) or of a port its "
            "relationships rules point to (dim_employee.department)"
        )
    return value


def _reference(value: str) -> str:
    if not _REFERENCE.match(value):
        raise ValueError(
            f"bad metric {value!r}: name a metric of this product (overtime_cost) or of another by "
            "address (hr.overtime.overtime_cost)"
        )
    return value


def _timezone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Europe/Paris or UTC")
    return value


Dimension = Annotated[str, AfterValidator(_dimension)]
MetricReference = Annotated[str, AfterValidator(_reference)]


class _Metric(Spec):
    name: Identifier
    label: Text  # what a business reader sees: "Overtime cost"
    description: Text
    decimals: int = Field(default=2, ge=0, le=10)  # the answer's scale; counts are whole numbers

    @property
    def components(self) -> tuple[str, ...]:
        """The metrics this one is made of, as written (names or addresses)."""
        return ()


class SimpleMetric(_Metric):
    """One aggregation of one port's rows."""

    type: Literal["simple"] = "simple"
    port: Identifier
    aggregation: Aggregation
    expression: Text | None = None  # a column or row expression; a `count` without one counts rows
    filter: Text | None = None  # a row condition: only the rows it keeps are aggregated
    time: ColumnName | None = None  # a date or timestamp column of the port: `metric_time`
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"  # where a timestamp's day begins
    grains: tuple[Grain, ...] = GRAINS
    dimensions: tuple[Dimension, ...] = ()

    @model_validator(mode="after")
    def _expression_given(self) -> SimpleMetric:
        if self.expression is None and self.aggregation != "count":
            raise ValueError(f"{self.aggregation} needs an expression (a column or a row expression)")
        if len(set(self.grains)) != len(self.grains) or not self.grains:
            raise ValueError("grains: list each of day, week, month, quarter, year at most once, and at least one")
        return self

    @property
    def counts(self) -> bool:
        return self.aggregation in ("count", "count_distinct")


class RatioMetric(_Metric):
    """One metric divided by another, both aggregated first (a share, a cost per head). A zero
    denominator gives no value (NULL), never an error."""

    type: Literal["ratio"]
    numerator: MetricReference
    denominator: MetricReference
    decimals: int = Field(default=4, ge=0, le=10)

    @property
    def components(self) -> tuple[str, ...]:
        return (self.numerator, self.denominator)


class DerivedMetric(_Metric):
    """Arithmetic over other metrics, named in `metrics` and used in `expression` by their last
    name part (`overtime_cost - paid_cost`)."""

    type: Literal["derived"]
    metrics: tuple[MetricReference, ...] = Field(min_length=1)
    expression: Text

    @property
    def components(self) -> tuple[str, ...]:
        return self.metrics


class MetricQuery(Spec):
    """A step whose table is the answer to a metric question (`query:` instead of `sql:`): one row per
    group, a column per dimension (`metric_time` first, at `grain`) and one per metric. A product
    uses another's metric by address this way, and computes no figure of its own that the other
    defines."""

    metrics: tuple[MetricReference, ...] = Field(min_length=1)
    by: tuple[Identifier, ...] = ()
    grain: Grain | None = None
    where: Text | None = None


def _metric_kind(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "simple"))
    return str(getattr(value, "type", "simple"))


Metric = Annotated[
    Annotated[SimpleMetric, Tag("simple")]
    | Annotated[RatioMetric, Tag("ratio")]
    | Annotated[DerivedMetric, Tag("derived")],
    Discriminator(_metric_kind),
]


def short_name(reference: str) -> str:
    """The name a component goes by in a derived metric's expression: an address's last part."""
    return reference.rsplit(".", 1)[-1]
