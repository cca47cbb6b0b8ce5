"""What a rule found, the same for both executors, and the helpers whose meaning they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from platform_core.descriptors.column_types import DUCKDB_TYPES
from platform_core.descriptors.rules import AcceptedValues, MaxAge, RowCount, Rule

RULES_METADATA = "rules"  # a check's metadata entry listing the results of the rules within it


@dataclass(frozen=True)
class RuleResult:
    check_name: str
    severity: str
    passed: bool
    failing_rows: int = 0
    observed: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    parts: tuple[RuleResult, ...] = ()  # the rules a check runs within itself (the schema check's nullability)

    @property
    def blocking(self) -> bool:
        return not self.passed and self.severity == "error"

    @property
    def every_rule(self) -> tuple[RuleResult, ...]:
        """This result and the results of the rules it holds: each rule's own, as people read them."""
        return (self, *self.parts)

    @property
    def named(self) -> str:
        """Its name, with the rules within it that failed: `schema (not_null_employee_id)`."""
        failed = [p.check_name for p in self.parts if not p.passed]
        return f"{self.check_name} ({', '.join(failed)})" if failed else self.check_name


def describe(rule: Rule) -> str:
    """The rule's own description, or the meaning half of its class docstring (after the usage example)."""
    return rule.description or (type(rule).__doc__ or "").split("`: ", 1)[-1].strip()


def dataset_result(rule: Rule, passed: bool, observed: dict[str, Any]) -> RuleResult:
    return RuleResult(rule.check_name, rule.severity, passed, 0, observed, describe(rule))


def rows_result(rule: Rule, failing: int, total: int) -> RuleResult:
    return RuleResult(rule.check_name, rule.severity, failing == 0, failing, {"rows": total}, describe(rule))


class RuleError(Exception):
    """An error met in another process (the run's, for a pandas step's audit), in the words
    `error_text` gave it there."""


def error_text(error: Exception) -> str:
    """An error as a rule's result says it: its type and its first line."""
    if isinstance(error, RuleError):
        return str(error)
    message = (str(error).splitlines() or [""])[0]
    return f"{type(error).__name__}: {message}"


def guarded(rule: Rule, evaluate: Callable[[], RuleResult]) -> RuleResult:
    """Evaluate one rule; a rule that cannot be evaluated fails and says why, rather than
    failing the whole step and hiding every other check's result."""
    try:
        return evaluate()
    except Exception as error:  # noqa: BLE001 - any engine error is this rule's failure, reported
        return dataset_result(rule, False, {"error": error_text(error)})


def row_count_passes(rule: RowCount, count: int) -> bool:
    return (rule.min is None or count >= rule.min) and (rule.max is None or count <= rule.max)


def max_age_result(rule: MaxAge, newest: Any, now: datetime) -> RuleResult:
    if newest is None or newest != newest:  # None or NaT/NaN
        return dataset_result(rule, False, {"newest": None, "max_age": str(rule.max_age)})
    if isinstance(newest, date) and not isinstance(newest, datetime):
        newest = datetime(newest.year, newest.month, newest.day)
    newest = newest.to_pydatetime() if hasattr(newest, "to_pydatetime") else newest
    if newest.tzinfo is None:  # naive timestamps are stored in UTC by convention
        newest = newest.replace(tzinfo=UTC)
    age = now - newest
    return dataset_result(
        rule, age <= rule.max_age, {"newest": newest.isoformat(), "age_hours": round(age.total_seconds() / 3600, 2)}
    )


def text_values(rule: AcceptedValues) -> list[str]:
    """The accepted values as DuckDB prints them (`true`, not Python's `True`)."""
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in rule.values]


def as_text(column: str, duckdb_type: str) -> str:
    """Text form of a value as accepted_values compares it; 7.0 in a float column reads as 7."""
    if duckdb_type in DUCKDB_TYPES["double"]:
        return (
            f"CASE WHEN isfinite({column}) AND {column} = trunc({column}) "
            f"THEN CAST(CAST({column} AS HUGEINT) AS VARCHAR) "
            f"ELSE CAST({column} AS VARCHAR) END"
        )
    return f"CAST({column} AS VARCHAR)"
