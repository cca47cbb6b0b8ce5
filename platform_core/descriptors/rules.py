"""Built-in quality rules, declared as data.

Products reference rules by `type`; each class below is one rule, its docstring the
one-line usage a domain team copies. `RULES` is derived from the declarations, so adding a
class here is all it takes to add a rule to the descriptor language. Execution lives in
`platform_core.quality.sql_executor` (SQL in DuckDB) and `platform_core.quality.pandera_executor` (pandas).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Field, model_validator

from platform_core.descriptors.types import ColumnName, Duration, Identifier, Spec, Text

Severity = Literal["error", "warn"]


def _accepted_value(value: Any) -> Any:
    if isinstance(value, date):  # YAML reads 2026-01-31 as a date: compare it as DuckDB prints one
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    # one clear message instead of one per member of the union below
    if not isinstance(value, bool | str | int):
        raise ValueError(f"{value!r} cannot be an accepted value: use text, a whole number, or true/false")
    return value


# bool first: YAML's true stays a boolean instead of becoming 1
AcceptedValue = Annotated[bool | str | int, BeforeValidator(_accepted_value)]


class _Rule(Spec):
    name: Identifier | None = None
    severity: Severity = "error"
    description: str | None = None
    if TYPE_CHECKING:
        # Each rule declares `type` as its own Literal tag. Declared here for the type checker only:
        # a field on this base would come first in every rule's fields, and so in the JSON Schema.
        type: str

    @property
    def check_name(self) -> str:
        return self.name or self.default_name()

    def default_name(self) -> str:
        return str(self.type)

    @property
    def columns_used(self) -> tuple[str, ...]:
        return ()


def _check_bounds(rule: Range | RowCount) -> Range | RowCount:
    for name in ("min", "max"):  # NaN compares false to everything: the executors would disagree on it
        bound = getattr(rule, name)
        if bound is not None and not math.isfinite(bound):
            raise ValueError(f"{rule.type} {name} must be a finite number, not {bound}")
    if rule.min is None and rule.max is None:
        raise ValueError(f"{rule.type} needs min, max or both")
    if rule.min is not None and rule.max is not None and rule.min > rule.max:
        raise ValueError(f"{rule.type} min {rule.min} is greater than max {rule.max}")
    return rule


class _ColumnRule(_Rule):
    column: ColumnName

    def default_name(self) -> str:
        return f"{self.type}_{self.column}"

    @property
    def columns_used(self) -> tuple[str, ...]:
        return (self.column,)


class NotNull(_ColumnRule):
    """`{type: not_null, column: employee_id}`: no row has a null in the column."""

    type: Literal["not_null"]


class Unique(_Rule):
    """`{type: unique, columns: [employee_id, period_id]}`: no two rows share the key; every duplicate row counts."""

    type: Literal["unique"]
    columns: tuple[ColumnName, ...] = Field(min_length=1)

    def default_name(self) -> str:
        return "unique_" + "_".join(self.columns)

    @property
    def columns_used(self) -> tuple[str, ...]:
        return self.columns


class AcceptedValues(_ColumnRule):
    """`{type: accepted_values, column: status, values: [approved, pending]}`: non-null values are in the list."""

    type: Literal["accepted_values"]
    values: tuple[AcceptedValue, ...] = Field(min_length=1)


class Range(_ColumnRule):
    """`{type: range, column: hours, min: 0, max: 16}`: non-null values lie within [min, max]."""

    type: Literal["range"]
    min: float | None = None
    max: float | None = None

    _bounds = model_validator(mode="after")(lambda self: _check_bounds(self))


class Relationships(_ColumnRule):
    """`{type: relationships, column: employee_id, to: dim_employee, field: employee_id}`: a foreign key into another port."""  # noqa: E501 - one line, as the JSON Schema shows it

    type: Literal["relationships"]
    to: Identifier
    field: ColumnName

    def default_name(self) -> str:
        return f"relationships_{self.column}_{self.to}"


class RowCount(_Rule):
    """`{type: row_count, min: 100, max: 1000000}`: the table's row count lies within [min, max]."""

    type: Literal["row_count"]
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    _bounds = model_validator(mode="after")(lambda self: _check_bounds(self))


class MaxAge(_ColumnRule):
    """`{type: max_age, column: loaded_at, max_age: 26h}`: the newest timestamp is at most that old."""

    type: Literal["max_age"]
    max_age: Duration


class Expression(_Rule):
    """`{type: expression, name: positive_amount, expression: "amount >= 0"}`: every row satisfies the SQL expression."""  # noqa: E501 - one line, as the JSON Schema shows it

    type: Literal["expression"]
    name: Identifier
    expression: Text

    def default_name(self) -> str:
        return self.name


# The union is written out (not built from a tuple) so that type checkers see every rule.
Rule = Annotated[
    NotNull | Unique | AcceptedValues | Range | Relationships | RowCount | MaxAge | Expression,
    Field(discriminator="type"),
]
_RULE_CLASSES: tuple[type[_Rule], ...] = get_args(get_args(Rule)[0])

RULES: dict[str, type[_Rule]] = {get_args(cls.model_fields["type"].annotation)[0]: cls for cls in _RULE_CLASSES}
