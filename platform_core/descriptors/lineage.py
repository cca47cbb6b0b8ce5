"""Which input columns each column of a step's SELECT carries, from the SQL's parse tree.

A step's output column carries the values of the columns its expression is made of, through
CTEs, subqueries and UNION branches, down to the tables the step reads (its dependencies by
their plain names). A count of them does not carry them: `count(email)` is a number, not an
e-mail. Columns a step only filters or joins on are not carried either. This is what lets
classification follow the data (platform_core.governance.policies: `classification_follows_data`).

Parsed with sqlglot in DuckDB's dialect, against the declared columns of each dependency, so
`*` expands; nothing runs. A query sqlglot cannot follow carries every column of what it reads:
the rule then errs on the side of the data.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # sqlglot is imported when a step is parsed, not when the platform loads
    from sqlglot import exp
    from sqlglot.optimizer.scope import Scope

Source = tuple[str, str]  # (dependency, column)

# Aggregates whose result is a count of values, not one of them.
_COUNTING = ("Count", "ApproxDistinct")


def column_sources(sql: str, schema: Mapping[str, list[str]]) -> dict[str, frozenset[Source]]:
    """For each output column of `sql` (by name), the (dependency, column) pairs its values come
    from; `schema` gives each dependency's columns."""
    key = json.dumps({table: list(columns) for table, columns in sorted(schema.items())})
    return dict(_column_sources(sql, key))


@functools.lru_cache(maxsize=2048)
def _column_sources(sql: str, schema_key: str) -> tuple[tuple[str, frozenset[Source]], ...]:
    import sqlglot
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope

    schema: dict[str, object] = {
        table: dict.fromkeys(columns, "VARCHAR") for table, columns in json.loads(schema_key).items()
    }
    everything = frozenset(
        (table, str(column)) for table, columns in json.loads(schema_key).items() for column in columns
    )
    try:
        tree = qualify(
            sqlglot.parse_one(sql, dialect="duckdb"),
            schema=schema,
            dialect="duckdb",
            validate_qualify_columns=False,
            identify=False,
        )
        root = build_scope(tree)
    except Exception:  # noqa: BLE001 - whatever sqlglot cannot follow carries everything it reads
        return ()
    if root is None:
        return ()
    try:
        return tuple((name, frozenset(found)) for name, found in _outputs(root, schema))
    except Exception:  # noqa: BLE001 - as above
        return tuple((name, everything) for name in _names(root))


def _names(scope: Scope) -> list[str]:
    from sqlglot import exp

    expression: Any = scope.expression
    while isinstance(expression, exp.SetOperation):
        expression = expression.left
    return [select.alias_or_name for select in expression.selects]


def _outputs(scope: Scope, schema: Mapping[str, object]) -> Iterator[tuple[str, set[Source]]]:
    """Each output column of a scope (a SELECT, or a UNION of them: by position) and its sources."""
    branches = _branches(scope)
    names = _names(scope)
    for position, name in enumerate(names):
        found: set[Source] = set()
        for branch in branches:
            selects: list[Any] = getattr(branch.expression, "selects", [])
            if position < len(selects):
                found |= _carried(selects[position], branch, schema)
        yield name, found


def _branches(scope: Scope) -> list[Scope]:
    """The SELECT scopes of a scope: itself, or every branch of a UNION (nested ones too)."""
    union = getattr(scope, "set_operation_scopes", None)
    if union:
        return [branch for part in union for branch in _branches(part)]
    return [scope]


def _carried(expression: exp.Expression, scope: Scope, schema: Mapping[str, object]) -> set[Source]:
    """The sources of the columns an expression's value is made of, in `scope`."""
    from sqlglot import exp
    from sqlglot.optimizer.scope import Scope

    found: set[Source] = set()
    for column in _value_columns(expression):
        source = scope.sources.get(column.table)
        if isinstance(source, Scope):  # a CTE, a subquery, a derived table: follow its column
            found |= next((f for n, f in _outputs(source, schema) if n == column.name), set())
        elif isinstance(source, exp.Table) and source.name in schema:
            found.add((source.name, column.name))
    return found


def _value_columns(expression: exp.Expression) -> Iterator[exp.Column]:
    """The columns in an expression whose values reach its result (not those only counted)."""
    from sqlglot import exp

    stack: list[Any] = [expression]
    while stack:
        node = stack.pop()
        if type(node).__name__ in _COUNTING or isinstance(node, exp.Subquery):
            continue
        if isinstance(node, exp.Column):
            yield node
            continue
        if isinstance(node, exp.Window):  # the function's value; not what it partitions or orders by
            stack.append(node.this)
            continue
        if isinstance(node, exp.Expression):
            stack.extend(node.iter_expressions())
