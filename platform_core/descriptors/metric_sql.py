"""One compiler for every metric question, whatever surface asks it.

A question names metrics, the dimensions to group by, a time grain and a filter. The compiler turns
it into one SELECT, built as a syntax tree (sqlglot) and written in the dialect of the engine that
runs it: DuckDB on the lake (`mesh metrics query`, the Python API) or PostgreSQL in the serving
database (a function per metric). The same tree, so the same figure, in every tool.

How a question becomes SQL:

1. Each requested metric is resolved to the simple metrics it is made of (ratios and derived
   metrics are arithmetic over them), within its product or, by address, in another.
2. Each simple metric contributes the rows of its port that its filter keeps, with the dimensions
   asked for (joined through its port's `relationships` rules where a dimension lives in another
   port) and its expression in a column of its own; the rows of all of them are one UNION ALL.
3. One GROUP BY aggregates every simple metric over those rows, each over its own column.
4. Ratios and derived metrics are computed from the aggregates (a zero denominator gives NULL),
   and every answer is rounded to its metric's `decimals` and typed (counts are whole numbers).

The expressions a metric holds (its expression, its filter, a derived metric's arithmetic, a
question's `where`) are authored text that reaches every surface: DuckDB on the lake, PostgreSQL in
the serving database. They are parsed (sqlglot), never pasted, and only what means the same in both
engines is accepted: columns by plain name, literals, arithmetic, comparisons, boolean logic, `IN`
lists, `BETWEEN`, `LIKE`, `IS NULL`, `CASE`, casts to scalar types and a few portable functions. No
subquery, no table, no other function can reach past the rows a metric reads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.simplify import simplify

from platform_core.descriptors.metrics import (
    GRAINS,
    METRIC_TIME,
    DerivedMetric,
    Grain,
    Metric,
    RatioMetric,
    SimpleMetric,
    short_name,
)
from platform_core.descriptors.rules import Relationships
from platform_core.descriptors.spec import Column, Port

# --- the expressions a metric may hold ----------------------------------------------------
# Node types an expression may contain (besides those below, which carry their own checks).
_ALLOWED: tuple[type[exp.Expr], ...] = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.Neg,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.And,
    exp.Or,
    exp.Not,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.Case,
    exp.If,
    exp.Cast,
    exp.DataType,
    exp.DataTypeParam,
    exp.Coalesce,
    exp.Nullif,
    exp.Round,
    exp.Abs,
    exp.Greatest,
    exp.Least,
    exp.Lower,
    exp.Upper,
    exp.Trim,
)
_SCALAR_TYPES = {
    exp.DataType.Type.BOOLEAN,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.DOUBLE,
    exp.DataType.Type.FLOAT,
    exp.DataType.Type.DECIMAL,
    exp.DataType.Type.VARCHAR,
    exp.DataType.Type.TEXT,
    exp.DataType.Type.DATE,
    exp.DataType.Type.TIMESTAMP,
}


class ExpressionError(ValueError):
    """An expression a metric may not hold, with what to write instead."""


@functools.lru_cache(maxsize=1024)
def _parsed(text: str) -> exp.Expr:
    try:
        statements = sqlglot.parse(text, read="duckdb")
    except sqlglot.errors.ParseError as error:
        raise ExpressionError(f"not one SQL expression: {str(error).splitlines()[0]}") from None
    if len(statements) != 1 or statements[0] is None:
        raise ExpressionError("not one SQL expression: write one expression, without ';'")
    return statements[0]


def parse_expression(text: str, what: str = "expression") -> exp.Expr:
    """The expression tree of `text`, or ExpressionError saying which part is not allowed."""
    tree = _parsed(text)
    for node in tree.walk():
        if isinstance(node, exp.Column) and (node.table or node.args.get("db")):
            raise ExpressionError(f"the {what} names {node.sql()} with a table: name columns alone")
        if isinstance(node, exp.Cast) and node.to.this not in _SCALAR_TYPES:
            raise ExpressionError(f"the {what} casts to {node.to.sql()}: cast to a number, text, date or boolean")
        if isinstance(node, exp.In) and node.args.get("query") is not None:
            raise ExpressionError(f"the {what} reads a table (a subquery); list the values: status IN ('a', 'b')")
        if not isinstance(node, _ALLOWED):
            name = node.sql(dialect="duckdb") if isinstance(node, exp.Func) else type(node).__name__
            raise ExpressionError(
                f"the {what} uses {name.split('(')[0] if isinstance(node, exp.Func) else name}, which a metric "
                "may not: use columns, literals, arithmetic, comparisons, AND/OR/NOT, IN, BETWEEN, LIKE, "
                "IS NULL, CASE, CAST, COALESCE, NULLIF, ROUND, ABS, GREATEST, LEAST, LOWER, UPPER, TRIM"
            )
    return tree.copy()


def name_of(column: exp.Column) -> str:
    """A column's name as DuckDB resolves it: unquoted names in lower case."""
    return column.name if column.this.quoted else column.name.lower()


def expression_columns(tree: exp.Expr) -> list[str]:
    """The column names an expression reads, in order of first use."""
    return list(dict.fromkeys(name_of(column) for column in tree.find_all(exp.Column)))


def qualified(tree: exp.Expr, table: str | Mapping[str, exp.Expr]) -> exp.Expr:
    """The expression with each column read from `table`, or replaced by what `table` maps it to."""

    def swap(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Column):
            return node
        if not isinstance(table, str):
            return table[name_of(node)].copy()
        return exp.column(name_of(node), table=table, quoted=True)

    return tree.copy().transform(swap)


# --- the compiler ----------------------------------------------------------------------------

Dialect = Literal["duckdb", "postgres"]
# A port's table as the engine reads it, from the port's address (`hr.overtime.fact_overtime`).
TableOf = Callable[[str], exp.Expr]
_AGGREGATE: dict[str, Callable[[exp.Expr], exp.Expr]] = {
    "sum": lambda e: exp.Sum(this=e),
    "count": lambda e: exp.Count(this=e),
    "count_distinct": lambda e: exp.Count(this=exp.Distinct(expressions=[e])),
    "avg": lambda e: exp.Avg(this=e),
    "min": lambda e: exp.Min(this=e),
    "max": lambda e: exp.Max(this=e),
}
_ROW, _AGGREGATED = "metric_rows", "aggregated"


class MetricError(ValueError):
    """A question or a metric that cannot be compiled, with what to change."""


@dataclass(frozen=True)
class Offering:
    """What one product offers to metric questions: its ports and its metrics, by name."""

    product: str  # <domain>.<product>
    ports: Mapping[str, Port]
    metrics: Mapping[str, Metric]


def offering_of(product: str, ports: Iterable[Port], metrics: Iterable[Metric]) -> Offering:
    """What a product (`<domain>.<product>`) offers, from its ports and metrics."""
    return Offering(product, {p.name: p for p in ports}, {m.name: m for m in metrics})


@dataclass(frozen=True)
class Question:
    metrics: tuple[str, ...]  # names of the home product's metrics, or addresses
    by: tuple[str, ...] = ()  # dimension names; metric_time is the time dimension at `grain`
    grain: Grain | None = None
    where: str | None = None  # a condition over dimensions, applied to the rows before aggregating


@dataclass(frozen=True)
class Compiled:
    sql: str
    columns: tuple[str, ...]  # in order: the dimensions grouped by, then one per metric


@dataclass(frozen=True)
class Dimension:
    """Where one dimension of a simple metric comes from: a column of its port, or of a port a
    relationships rule joins (`join`)."""

    name: str
    column: str
    type: str
    join: Relationships | None = None


@dataclass(frozen=True)
class Leaf:
    """A simple metric in its product: what every question is finally made of."""

    offering: Offering
    metric: SimpleMetric

    @property
    def key(self) -> str:
        return f"{self.offering.product}.{self.metric.name}"

    @property
    def port(self) -> Port:
        if self.metric.port not in self.offering.ports:
            raise MetricError(f"{self.key}: {self.offering.product} has no output port {self.metric.port!r}")
        return self.offering.ports[self.metric.port]

    @property
    def address(self) -> str:
        return f"{self.offering.product}.{self.metric.port}"

    def dimensions(self) -> dict[str, Dimension]:
        """Every dimension the metric may be grouped by, by name (its time dimension not included)."""
        found: dict[str, Dimension] = {}
        for written in self.metric.dimensions:
            port_name, _, column = written.rpartition(".")
            if not port_name:
                declared = _column(self.port, column, f"{self.key}: dimension {written!r}")
                found[column] = Dimension(column, column, declared.type)
                continue
            rule = next(
                (r for r in self.port.quality if isinstance(r, Relationships) and r.to == port_name),
                None,
            )
            if rule is None or port_name not in self.offering.ports:
                raise MetricError(
                    f"{self.key}: dimension {written!r}: port {self.metric.port} has no relationships rule "
                    f"to a port {port_name!r} of {self.offering.product}; add one "
                    f"({{type: relationships, column: ..., to: {port_name}, field: ...}}) or name a column "
                    f"of {self.metric.port}"
                )
            declared = _column(self.offering.ports[port_name], column, f"{self.key}: dimension {written!r}")
            found[column] = Dimension(column, column, declared.type, rule)
        return found

    def time_type(self) -> str | None:
        if self.metric.time is None:
            return None
        return _column(self.port, self.metric.time, f"{self.key}: time").type


def _column(port: Port, name: str, where: str) -> Column:
    column = next((c for c in port.columns if c.name == name), None)
    if column is None:
        raise MetricError(f"{where}: port {port.name} has no column {name!r}")
    return column


@dataclass
class Catalogue:
    """Resolves metric references from a home product: names within it, addresses elsewhere."""

    home: Offering
    others: Callable[[str], Offering]  # an offering by product address; MetricError when there is none
    _seen: dict[str, Offering] = field(default_factory=dict)

    def offering(self, product: str) -> Offering:
        if product == self.home.product:
            return self.home
        if product not in self._seen:
            self._seen[product] = self.others(product)
        return self._seen[product]

    def metric(self, reference: str, within: Offering | None = None) -> tuple[Offering, Metric]:
        within = within or self.home
        if reference.count(".") == 2:
            product, name = reference.rsplit(".", 1)
            within = self.offering(product)
        else:
            name = reference
        found = within.metrics.get(name)
        if found is None:
            known = ", ".join(sorted(within.metrics)) or "none"
            raise MetricError(f"{within.product} has no metric {name!r}; its metrics: {known}")
        return within, found

    def leaves(self, reference: str, within: Offering | None = None, trail: tuple[str, ...] = ()) -> list[Leaf]:
        """The simple metrics `reference` is made of, each once, in the order they are first met."""
        offering, metric = self.metric(reference, within)
        key = f"{offering.product}.{metric.name}"
        if key in trail:
            raise MetricError(f"metrics refer to each other in a loop: {' -> '.join([*trail, key])}")
        if isinstance(metric, SimpleMetric):
            return [Leaf(offering, metric)]
        found: dict[str, Leaf] = {}
        for component in metric.components:
            for leaf in self.leaves(component, offering, (*trail, key)):
                found.setdefault(leaf.key, leaf)
        return list(found.values())

    def grouping(self, *references: str) -> tuple[dict[str, Dimension], tuple[Grain, ...]]:
        """The dimensions every simple metric of `references` shares (by name), and the grains at
        which all of them have a time dimension: how they may be asked together."""
        leaves = [leaf for reference in references for leaf in self.leaves(reference)]
        shared = leaves[0].dimensions()
        grains = set(GRAINS)
        for leaf in leaves:
            names = leaf.dimensions()
            shared = {name: dim for name, dim in shared.items() if name in names}
            grains &= set(leaf.metric.grains) if leaf.metric.time else set()
        return shared, tuple(g for g in GRAINS if g in grains)


def compile_question(question: Question, catalogue: Catalogue, table: TableOf, dialect: Dialect) -> Compiled:
    """One SELECT answering `question`, in `dialect`, reading each port through `table`."""
    if not question.metrics:
        raise MetricError("name at least one metric")
    requested = [catalogue.metric(ref) for ref in question.metrics]
    names = [metric.name for _, metric in requested]
    if len(set(names)) != len(names):
        raise MetricError(f"asked twice, or two metrics share a name: {', '.join(names)}")
    allowed = catalogue.grouping(*question.metrics)
    for name in question.by:
        if name == METRIC_TIME:
            raise MetricError(f"group by time with a grain (--grain {'|'.join(GRAINS)}), not by {METRIC_TIME}")
        if name not in allowed[0]:
            raise MetricError(
                f"{', '.join(question.metrics)} cannot be grouped by {name!r}; dimensions: "
                f"{', '.join(sorted(allowed[0])) or 'none'}"
                + (f", and {METRIC_TIME} by {'/'.join(allowed[1])}" if allowed[1] else "")
            )
    if len(set(question.by)) != len(question.by):
        raise MetricError("a dimension is named twice in by")
    if question.grain is not None and question.grain not in allowed[1]:
        raise MetricError(
            f"{', '.join(question.metrics)} cannot be grouped by {question.grain}: "
            + (f"grains: {', '.join(allowed[1])}" if allowed[1] else "it has no time dimension")
        )
    condition = None
    carried = list(question.by)
    if question.where:
        condition = _parse(question.where, "where")
        for name in expression_columns(condition):
            if name != METRIC_TIME and name not in allowed[0]:
                raise MetricError(
                    f"where names {name!r}, which is not a dimension of {', '.join(question.metrics)}; "
                    f"dimensions: {', '.join(sorted(allowed[0])) or 'none'}"
                    + (f" and {METRIC_TIME}" if allowed[1] else "")
                )
            if name == METRIC_TIME and question.grain is None:
                raise MetricError(f"where names {METRIC_TIME}: give a grain too")
            if name not in carried and name != METRIC_TIME:
                carried.append(name)
    keys = ([METRIC_TIME] if question.grain else []) + list(question.by)

    def group(name: str, expression: exp.Expr) -> exp.Expr:
        return expression

    select = _select(
        catalogue,
        list(question.metrics),
        keys,
        carried,
        lambda leaf: _truncated(leaf, exp.Literal.string(question.grain or "day")) if question.grain else None,
        group,
        condition,
        table,
    )
    columns = (*keys, *names)
    return Compiled(select.sql(dialect=dialect, identify=True), columns)


def compile_function_body(
    reference: str,
    catalogue: Catalogue,
    table: TableOf,
    grain: exp.Expr,
    by: exp.Expr,
    joined: frozenset[str] = frozenset(),
) -> tuple[str, dict[str, Dimension]]:
    """The SELECT of a serving-database function that answers `reference` at the grain held by
    parameter `grain` (NULL: no time), grouped by the dimensions whose names are in array
    parameter `by`; every dimension is a column, NULL where it is not grouped by. Only the ports
    named in `joined` are joined (a person may not read them all; the function picks the body that
    joins what the call groups by). PostgreSQL."""
    dimensions, grains = catalogue.grouping(reference)
    carried = [n for n, d in dimensions.items() if d.join is None or d.join.to in joined]
    keys = ([METRIC_TIME] if grains else []) + list(dimensions)
    parameter_grain, parameter_by = grain, by

    def group(name: str, expression: exp.Expr) -> exp.Expr:
        chosen = exp.EQ(this=exp.Literal.string(name), expression=exp.Any(this=exp.Paren(this=parameter_by)))
        return exp.Case().when(chosen, expression)

    def time(leaf: Leaf) -> exp.Expr:
        grouped = exp.Not(this=exp.Is(this=parameter_grain, expression=exp.Null()))
        return exp.Case().when(grouped, _truncated(leaf, parameter_grain))

    select = _select(catalogue, [reference], keys, carried, time if grains else lambda leaf: None, group, None, table)
    return select.sql(dialect="postgres", identify=True), dimensions


def _parse(text: str, what: str) -> exp.Expr:
    try:
        return parse_expression(text, what)
    except ExpressionError as error:
        raise MetricError(str(error)) from None


def _truncated(leaf: Leaf, grain: exp.Expr) -> exp.Expr:
    """The first day of the period `leaf`'s time falls in (in its time zone, for a timestamp)."""
    assert leaf.metric.time is not None
    moment: exp.Expr = exp.column(leaf.metric.time, table="t", quoted=True)
    if (leaf.time_type() or "").startswith("timestamp") and leaf.metric.timezone != "UTC":
        utc = exp.AtTimeZone(this=moment, zone=exp.Literal.string("UTC"))
        moment = exp.AtTimeZone(this=utc, zone=exp.Literal.string(leaf.metric.timezone))
    truncated = exp.Anonymous(this="DATE_TRUNC", expressions=[grain, moment])
    return exp.Cast(this=truncated, to=exp.DataType.build("DATE"))


def _select(
    catalogue: Catalogue,
    references: list[str],
    keys: list[str],
    carried: list[str],
    time: Callable[[Leaf], exp.Expr | None],
    group: Callable[[str, exp.Expr], exp.Expr],
    condition: exp.Expr | None,
    table: TableOf,
) -> exp.Select:
    leaves: dict[str, Leaf] = {}
    for reference in references:
        for leaf in catalogue.leaves(reference):
            leaves.setdefault(leaf.key, leaf)
    scans: dict[tuple[str, str | None, str], list[Leaf]] = {}
    for leaf in leaves.values():  # one scan per port and time dimension, whatever the filters
        scans.setdefault((leaf.address, leaf.metric.time, leaf.metric.timezone), []).append(leaf)
    # Each scan's distinct expressions and filters get a column of their own (hours summed under
    # three filters is one column and three flags); each aggregate reads its column FILTER its flag.
    slots = _Slots()
    for number, scan in enumerate(scans.values()):
        for leaf in scan:
            slots.add(number, leaf)
    rows = [_rows(number, scan, slots, keys, carried, time, group, table) for number, scan in enumerate(scans.values())]
    union: exp.Query = rows[0]
    for more in rows[1:]:
        union = exp.union(union, more, distinct=False)

    aggregated = exp.select(
        *(exp.column(k, quoted=True) for k in keys),
        *(exp.alias_(slots.aggregate(leaf), f"__m{i}", quoted=True) for i, leaf in enumerate(leaves.values())),
    ).from_(union.subquery(_ROW, copy=False))
    if condition is not None:
        aggregated = aggregated.where(qualified(condition, _ROW))
    if keys:
        aggregated = aggregated.group_by(*(exp.column(k, quoted=True) for k in keys))

    aggregates = {key: exp.column(f"__m{i}", table=_AGGREGATED, quoted=True) for i, key in enumerate(leaves)}
    values = []
    for reference in references:
        _, metric = catalogue.metric(reference)
        values.append(
            exp.alias_(_typed(metric, _raw(catalogue, reference, None, aggregates)), metric.name, quoted=True)
        )
    final = exp.select(*(exp.column(k, table=_AGGREGATED, quoted=True) for k in keys), *values).from_(
        aggregated.subquery(_AGGREGATED, copy=False)
    )
    if keys:
        final = final.order_by(*(exp.Ordered(this=exp.column(k, table=_AGGREGATED, quoted=True)) for k in keys))
    return final


@dataclass
class _Slots:
    """The value and flag columns of the rows: per scan, one per distinct expression and filter."""

    values: dict[tuple[int, str], tuple[str, exp.Expr]] = field(default_factory=dict)
    flags: dict[tuple[int, str], tuple[str, exp.Expr]] = field(default_factory=dict)
    of_leaf: dict[str, tuple[str, str | None, str]] = field(default_factory=dict)  # key -> value, flag, aggregation
    scan_of: dict[str, int] = field(default_factory=dict)

    def add(self, scan: int, leaf: Leaf) -> None:
        value = (
            qualified(_parse(leaf.metric.expression, f"expression of {leaf.key}"), "t")
            if leaf.metric.expression
            else exp.Literal.number(1)
        )
        value_name = self._slot(self.values, "__v", scan, value)
        flag_name = None
        if leaf.metric.filter:
            kept = qualified(_parse(leaf.metric.filter, f"filter of {leaf.key}"), "t")
            flag_name = self._slot(self.flags, "__f", scan, kept)
        self.of_leaf[leaf.key] = (value_name, flag_name, leaf.metric.aggregation)
        self.scan_of[leaf.key] = scan

    def uniform(self, scan: int) -> bool:
        """Whether every metric of the scan keeps the same rows: its WHERE says it all, no flag is needed."""
        flags = {self.of_leaf[key][1] for key, owner in self.scan_of.items() if owner == scan}
        return len(flags) == 1 and None not in flags

    @staticmethod
    def _slot(slots: dict[tuple[int, str], tuple[str, exp.Expr]], prefix: str, scan: int, tree: exp.Expr) -> str:
        key = (scan, tree.sql(dialect="duckdb"))
        if key not in slots:
            slots[key] = (f"{prefix}{len(slots)}", tree)
        return slots[key][0]

    def columns(self, scan: int) -> list[exp.Expr]:
        """The slot columns of a scan's rows: its own expressions, NULL for the other scans'."""
        found = []
        for (owner, _), (name, tree) in self.values.items():
            found.append(exp.alias_(tree.copy() if owner == scan else exp.Null(), name, quoted=True))
        for (owner, _), (name, tree) in self.flags.items():
            if not self.uniform(owner):
                found.append(exp.alias_(tree.copy() if owner == scan else exp.Null(), name, quoted=True))
        return found

    def filters(self, scan: int, leaves: list[Leaf]) -> list[exp.Expr] | None:
        """The scan's filters, when every metric of it has one (the rows none keeps are not read)."""
        names = [self.of_leaf[leaf.key][1] for leaf in leaves]
        if any(name is None for name in names):
            return None
        trees = {name: tree for (owner, _), (name, tree) in self.flags.items() if owner == scan}
        return [trees[name] for name in dict.fromkeys(names) if name is not None]

    def aggregate(self, leaf: Leaf) -> exp.Expr:
        value, flag, aggregation = self.of_leaf[leaf.key]
        aggregated = _AGGREGATE[aggregation](exp.column(value, quoted=True))
        if flag is None or self.uniform(self.scan_of[leaf.key]):
            return aggregated
        return exp.Filter(this=aggregated, expression=exp.Where(this=exp.column(flag, quoted=True)))


def _rows(
    scan: int,
    leaves: list[Leaf],
    slots: _Slots,
    keys: list[str],
    carried: list[str],
    time: Callable[[Leaf], exp.Expr | None],
    group: Callable[[str, exp.Expr], exp.Expr],
    table: TableOf,
) -> exp.Select:
    """The rows simple metrics of one port (and one time dimension) contribute, in one scan: the
    dimensions, and the metrics' expressions and filters in their slots. Only rows some metric
    keeps are read."""
    leaf = leaves[0]
    dimensions = leaf.dimensions()
    columns: list[exp.Expr] = []
    joins: dict[str, Relationships] = {}
    for name in keys:
        if name == METRIC_TIME:
            moment = time(leaf)
            assert moment is not None
            columns.append(exp.alias_(moment, METRIC_TIME, quoted=True))
    for name in [*(k for k in keys if k != METRIC_TIME and k not in carried), *carried]:
        if name not in carried:  # a dimension this body does not join: no value, and no join
            columns.append(exp.alias_(exp.Null(), name, quoted=True))
            continue
        dimension = dimensions[name]
        source = "t"
        if dimension.join is not None:
            source = f"j_{dimension.join.to}"
            joins[dimension.join.to] = dimension.join
        value = exp.column(dimension.column, table=source, quoted=True)
        columns.append(exp.alias_(group(name, value) if name in keys else value, name, quoted=True))
    columns += slots.columns(scan)
    select = exp.select(*columns).from_(exp.alias_(table(leaf.address), "t", table=True, quoted=True))
    for port, rule in joins.items():
        other = f"{leaf.offering.product}.{port}"
        on = exp.EQ(
            this=exp.column(rule.column, table="t", quoted=True),
            expression=exp.column(rule.field, table=f"j_{port}", quoted=True),
        )
        select = select.join(exp.alias_(table(other), f"j_{port}", table=True, quoted=True), on=on, join_type="left")
    kept = slots.filters(scan, leaves)
    if kept:
        condition: exp.Expr = exp.Paren(this=kept[0].copy())
        for more in kept[1:]:
            condition = exp.Or(this=condition, expression=exp.Paren(this=more.copy()))
        # only a pre-filter (each aggregate keeps its own rows by its flag): `a OR (a AND b)` reads as
        # `a`, which spares the engine a predicate per row
        select = select.where(simplify(condition) if len(kept) > 1 else condition)
    return select


def _raw(catalogue: Catalogue, reference: str, within: Offering | None, aggregates: Mapping[str, exp.Expr]) -> exp.Expr:
    """A metric's value from the aggregates, before rounding."""
    offering, metric = catalogue.metric(reference, within)
    if isinstance(metric, SimpleMetric):
        return aggregates[f"{offering.product}.{metric.name}"].copy()
    if isinstance(metric, RatioMetric):
        numerator = _raw(catalogue, metric.numerator, offering, aggregates)
        denominator = _raw(catalogue, metric.denominator, offering, aggregates)
        divisor = exp.Nullif(this=_decimal(denominator), expression=exp.Literal.number(0))
        return exp.Div(this=_decimal(numerator), expression=divisor, typed=False, safe=False)
    assert isinstance(metric, DerivedMetric)
    parts = {short_name(c): exp.Paren(this=_raw(catalogue, c, offering, aggregates)) for c in metric.components}
    tree = _parse(metric.expression, f"expression of {offering.product}.{metric.name}")
    unknown = [name for name in expression_columns(tree) if name not in parts]
    if unknown:
        raise MetricError(
            f"{offering.product}.{metric.name}: its expression names {', '.join(unknown)}, not among its "
            f"metrics ({', '.join(parts)})"
        )
    return qualified(tree, parts)


def _decimal(value: exp.Expr) -> exp.Expr:
    return exp.Cast(this=value, to=exp.DataType.build("DECIMAL(38, 10)"))


def _typed(metric: Metric, raw: exp.Expr) -> exp.Expr:
    """The answer as every surface shows it: counts as whole numbers, the rest at the metric's scale."""
    if isinstance(metric, SimpleMetric) and metric.counts:
        return exp.Cast(this=raw, to=exp.DataType.build("BIGINT"))
    rounded = exp.Round(this=_decimal(raw), decimals=exp.Literal.number(metric.decimals))
    return exp.Cast(this=rounded, to=exp.DataType.build(f"DECIMAL(38, {metric.decimals})"))
