"""Which input columns each column of a step's SELECT carries, from the SQL's parse tree.

A step's output column carries the values of the columns its expression is made of, through
CTEs, subqueries and UNION branches, down to the tables the step reads (its dependencies by
their plain names). A count of them does not carry them: `count(email)` is a number, not an
e-mail. Columns a step only filters or joins on are not carried either. This is what lets
classification follow the data (platform_core.governance.policies: `classification_follows_data`).

Parsed with sqlglot in DuckDB's dialect, against the declared columns of each dependency, so
`*` expands; nothing runs. A query sqlglot cannot follow carries every column of what it reads:
the rule then errs on the side of the data.

Parsing is the costly part of governing a domain (sqlglot's import alone is 0.2 s), and its
result only changes with the SQL and the columns it reads. Every parse is kept in one memo for
the process, and the descriptor cache (platform_core.descriptors.cache) stores the ones a
domain's governance needs with the domain, so that a later process governs it without sqlglot.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # sqlglot is imported when a step is parsed, not when the platform loads
    from sqlglot import exp
    from sqlglot.optimizer.scope import Scope

Source = tuple[str, str]  # (dependency, column)
Parses = dict[tuple[str, ...], Any]  # (parser, SQL, schema key[, dialect]) -> what it found

_PARSED: Parses = {}
_RECORDING: list[Parses] = []
# Parses a process keeps, the oldest forgotten first: a long-running process (the daemon's usage
# collection parses every distinct statement people send) must not grow without bound.
MEMO_SIZE = 4096


def _memoized(parser: Callable[..., Any]) -> Callable[..., Any]:
    """`parser`, its results kept in the process's memo (and given to whoever is recording)."""

    def parse(*arguments: str) -> Any:
        key = (parser.__name__, *arguments)
        if key not in _PARSED:
            _PARSED[key] = parser(*arguments)
            _forget_oldest()
        for recording in _RECORDING:
            recording[key] = _PARSED[key]
        return _PARSED[key]

    return parse


@contextmanager
def recording() -> Iterator[Parses]:
    """Every parse asked for within the block, found or parsed: what to keep with a domain."""
    parses: Parses = {}
    _RECORDING.append(parses)
    try:
        yield parses
    finally:
        _RECORDING.remove(parses)


def remember(parses: Parses) -> None:
    """Parses kept from an earlier process, for this one to use instead of parsing again."""
    _PARSED.update(parses)
    _forget_oldest()


def _forget_oldest() -> None:
    while len(_PARSED) > MEMO_SIZE:
        del _PARSED[next(iter(_PARSED))]


# Aggregates whose result is a count of values, not one of them.
_COUNTING = ("Count", "ApproxDistinct")


def column_sources(sql: str, schema: Mapping[str, list[str]]) -> dict[str, frozenset[Source]]:
    """For each output column of `sql` (by name), the (dependency, column) pairs its values come
    from; `schema` gives each dependency's columns."""
    key = json.dumps({table: list(columns) for table, columns in sorted(schema.items())})
    return dict(_column_sources(sql, key))


@_memoized
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


def columns_read(
    sql: str, schema: Mapping[str, list[str]], dialect: str = "duckdb"
) -> dict[str, frozenset[str]] | None:
    """For each table of `schema` that `sql` reads, every column of it the query touches: selected,
    filtered, joined, grouped or ordered on (what a consumer relies on, unlike `column_sources`).
    `schema` names tables plainly (`fact_overtime`) or with a schema (`hr.fact_overtime`). None when
    sqlglot cannot follow the query: the caller then counts every column of what it reads."""
    key = json.dumps({table: list(columns) for table, columns in sorted(schema.items())})
    found = _columns_read(sql, key, dialect)
    return None if found is None else dict(found)


@_memoized
def _columns_read(sql: str, schema_key: str, dialect: str) -> tuple[tuple[str, frozenset[str]], ...] | None:
    import sqlglot
    from sqlglot import exp
    from sqlglot.optimizer.pushdown_projections import pushdown_projections
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import traverse_scope

    tables: dict[str, list[str]] = json.loads(schema_key)
    nested: dict[str, Any] = {}
    for table, columns in tables.items():
        *db, name = table.split(".")
        level = nested
        for part in db:
            level = level.setdefault(part, {})
        level[name] = dict.fromkeys(columns, "VARCHAR")
    if any("." in table for table in tables) and not all("." in table for table in tables):
        return None  # sqlglot's schema wants every table at the same depth
    try:
        parsed = sqlglot.parse_one(sql, dialect=dialect)
        _add_named_columns(parsed, tables, nested)
        tree = qualify(
            parsed,
            schema=nested,
            dialect=dialect,
            validate_qualify_columns=False,
            identify=False,
        )
        tree = pushdown_projections(tree)  # a CTE's `*` reads only what the query then uses of it
        found: dict[str, set[str]] = {}
        for scope in traverse_scope(tree):
            only = list(scope.selected_sources.values())
            for column in scope.columns:
                # a column the schema lacks stays unqualified: it is the only source's, when there is one
                alone = only[0][1] if not column.table and len(only) == 1 else None
                source = scope.sources.get(column.table) if column.table else alone
                if not isinstance(source, exp.Table):
                    continue
                table = f"{source.db}.{source.name}" if source.db else source.name
                if table in tables:  # a column the schema lacks too: a consumer reading one its producer dropped
                    found.setdefault(table, set()).add(column.name)
            for source in scope.sources.values():  # `SELECT count(*) FROM t` reads t, if no column of it
                if isinstance(source, exp.Table):
                    table = f"{source.db}.{source.name}" if source.db else source.name
                    if table in tables:
                        found.setdefault(table, set())
    except Exception:  # noqa: BLE001 - a query sqlglot cannot follow reads everything it names
        return None
    return tuple((table, frozenset(columns)) for table, columns in sorted(found.items()))


def _add_named_columns(tree: exp.Expr, tables: Mapping[str, list[str]], nested: dict[str, Any]) -> None:
    """Add to the schema the columns the query names through a table's alias (`d.revenue`) that the
    table does not have: a consumer's SQL may read a column its producer has just dropped, and that
    read is what matters."""
    from sqlglot import exp

    aliases: dict[str, str] = {}
    for table in tree.find_all(exp.Table):
        name = f"{table.db}.{table.name}" if table.db else table.name
        if name in tables:
            aliases[table.alias_or_name] = name
    for column in tree.find_all(exp.Column):
        owner = aliases.get(column.table)
        if owner is not None and column.name not in tables[owner]:
            *db, plain = owner.split(".")
            level = nested
            for part in db:
                level = level[part]
            level[plain][column.name] = "VARCHAR"
