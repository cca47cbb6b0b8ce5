"""Built-in quality rules, declared as data.

Products reference rules by `type`; each class below is one rule, its docstring the
one-line usage a domain team copies. `RULES` is derived from the declarations, so adding a
class here is all it takes to add a rule to the descriptor language. Execution lives in
`platform_core.quality` (SQL in DuckDB) and `platform_core.quality_pandera` (pandas).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from platform_core.types import ColumnName, Duration, Identifier, Spec, Text

Severity = Literal["error", "warn"]


class _Rule(Spec):
    name: Identifier | None = None
    severity: Severity = "error"
    description: str | None = None

    @property
    def check_name(self) -> str:
        return self.name or self.default_name()

    def default_name(self) -> str:
        return str(getattr(self, "type"))

    @property
    def columns_used(self) -> tuple[str, ...]:
        return ()


class NotNull(_Rule):
    """`{type: not_null, column: employee_id}`: no row has a null in the column."""

    type: Literal["not_null"]
    column: ColumnName

    def default_name(self) -> str:
        return f"not_null_{self.column}"

    @property
    def columns_used(self) -> tuple[str, ...]:
        return (self.column,)


class Unique(_Rule):
    """`{type: unique, columns: [employee_id, period_id]}`: no two rows share the key; every duplicate row counts."""

    type: Literal["unique"]
    columns: tuple[ColumnName, ...] = Field(min_length=1)

    def default_name(self) -> str:
        return "unique_" + "_".join(self.columns)

    @property
    def columns_used(self) -> tuple[str, ...]:
        return self.columns


class AcceptedValues(_Rule):
    """`{type: accepted_values, column: status, values: [approved, pending]}`: non-null values are in the list."""

    type: Literal["accepted_values"]
    column: ColumnName
    values: tuple[str | int, ...] = Field(min_length=1)

    def default_name(self) -> str:
        return f"accepted_values_{self.column}"

    @property
    def columns_used(self) -> tuple[str, ...]:
        return (self.column,)


class Range(_Rule):
    """`{type: range, column: hours, min: 0, max: 16}`: non-null values lie within [min, max]."""

    type: Literal["range"]
    column: ColumnName
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("range needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"range min {self.min} is greater than max {self.max}")
        return self

    def default_name(self) -> str:
        return f"range_{self.column}"

    @property
    def columns_used(self) -> tuple[str, ...]:
        return (self.column,)


class Relationships(_Rule):
    """`{type: relationships, column: employee_id, to: dim_employee, field: employee_id}`: a foreign key into another port."""

    type: Literal["relationships"]
    column: ColumnName
    to: Identifier
    field: ColumnName

    def default_name(self) -> str:
        return f"relationships_{self.column}_{self.to}"

    @property
    def columns_used(self) -> tuple[str, ...]:
        return (self.column,)


class RowCount(_Rule):
    """`{type: row_count, min: 100, max: 1000000}`: the table's row count lies within [min, max]."""

    type: Literal["row_count"]
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> RowCount:
        if self.min is None and self.max is None:
            raise ValueError("row_count needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"row_count min {self.min} is greater than max {self.max}")
        return self


class MaxAge(_Rule):
    """`{type: max_age, column: loaded_at, max_age: 26h}`: the newest timestamp is at most that old."""

    type: Literal["max_age"]
    column: ColumnName
    max_age: Duration

    def default_name(self) -> str:
        return f"max_age_{self.column}"

    @property
    def columns_used(self) -> tuple[str, ...]:
        return (self.column,)

    @property
    def max_age_delta(self) -> timedelta:
        return self.max_age


class Expression(_Rule):
    """`{type: expression, name: positive_amount, expression: "amount >= 0"}`: every row satisfies the SQL expression."""

    type: Literal["expression"]
    name: Identifier
    expression: Text

    def default_name(self) -> str:
        return self.name


_RULE_CLASSES = (NotNull, Unique, AcceptedValues, Range, Relationships, RowCount, MaxAge, Expression)

Rule = Annotated[Union[_RULE_CLASSES], Field(discriminator="type")]  # type: ignore[valid-type]

RULES: dict[str, type[_Rule]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in _RULE_CLASSES
}
