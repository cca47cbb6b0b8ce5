"""Asking a metric a question, from Python or the CLI: compiled once, run on the lake.

```python
from platform_core.catalog.metrics import query
query("overtime_cost", by=["entity_id"], grain="month")          # a pandas DataFrame
query("hr.overtime.cost_per_employee", by=["department"], where="entity_id = 'FR01'", at="1.1.0")
```

A metric is named by its name where that is unique in the mesh, or by address
(`<domain>.<product>.<metric>`). Every port a question reads is read at one lake snapshot: the
current one, or the publication of the product version (or snapshot id, or time) `at` names.
People read metrics through the serving database instead, under their own grants (docs/metrics.md);
the lake is the platform's and its engineers'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import sqlglot
from sqlglot import exp

from platform_core.descriptors.addresses import AddressError
from platform_core.descriptors.cache import load_domain_cached
from platform_core.descriptors.lineage import columns_read
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.metric_sql import (
    Catalogue,
    Compiled,
    Dialect,
    MetricError,
    Offering,
    Question,
    TableOf,
    compile_question,
    offering_of,
)
from platform_core.descriptors.metrics import Grain, Metric, RatioMetric, SimpleMetric
from platform_core.descriptors.spec import Domain, Product
from platform_core.errors import PlatformError
from platform_core.serving.metrics import served_view
from platform_core.storage.lake import NotPublished
from platform_core.storage.warehouse import Warehouse

if TYPE_CHECKING:
    import pandas as pd


def offering(product: Product) -> Offering:
    return offering_of(product.product_address, product.output_ports, product.metrics)


def catalogue_among(products: Mapping[str, Product], home: Product) -> Catalogue:
    """The metrics of `home`, and of the loaded products (by address) it names."""

    def others(address: str) -> Offering:
        if address not in products:
            raise MetricError(f"there is no product {address}")
        return offering(products[address])

    return Catalogue(offering(home), others)


@dataclass
class MetricsOfMesh:
    """The metrics of a mesh: found by name or address, compiled for any engine. Only the domains a
    question needs are loaded (from the descriptor cache when unchanged); the rest of the mesh is
    read as its producers' contracts."""

    index: MeshIndex
    _loaded: dict[str, Domain] = field(default_factory=dict)

    @classmethod
    def of_workspace(cls, workspace: Path) -> MetricsOfMesh:
        return cls(MeshIndex.of_workspace(workspace))

    def domain(self, name: str) -> Domain:
        if name not in self._loaded:
            folder = self.index.domain_dir(name)
            if folder is None:
                raise MetricError(f"there is no domain {name!r}; domains: {', '.join(self.index.domain_names())}")
            try:
                self._loaded[name] = load_domain_cached(folder, index=self.index)
            except PlatformError as error:
                raise MetricError(f"{error} (mesh check says more)") from None
        return self._loaded[name]

    def all(self) -> list[tuple[Product, Metric]]:
        found = []
        for name in self.index.domain_names():
            try:
                found += [(p, m) for p in self.domain(name).products for m in p.metrics]
            except MetricError:
                continue  # a domain that does not load offers no metric; mesh check says why
        return found

    def find(self, reference: str) -> tuple[Product, Metric]:
        """The metric a name (unique in the mesh) or an address names, with its product."""
        if reference.count(".") == 2:
            product_address, name = reference.rsplit(".", 1)
            product = self.product(product_address)
            found = next((m for m in product.metrics if m.name == name), None)
            if found is None:
                known = ", ".join(m.name for m in product.metrics) or "none"
                raise MetricError(f"{product_address} has no metric {name!r}; its metrics: {known}")
            return product, found
        declaring = [e.address for e in self.index.products() if reference in self._declared(e.address)]
        matching = [(p, m) for a in declaring for p, m in self._of(a) if m.name == reference]
        if not matching:
            known = ", ".join(sorted(f"{p.product_address}.{m.name}" for p, m in self.all())) or "none"
            raise MetricError(f"no metric is named {reference!r}; metrics: {known}")
        if len(matching) > 1:
            addresses = ", ".join(f"{p.product_address}.{m.name}" for p, m in matching)
            raise MetricError(f"{reference!r} names several metrics; give its address: {addresses}")
        return matching[0]

    def _declared(self, address: str) -> set[str]:
        """The metric names a product's descriptor declares, read as its contract (no load)."""
        try:
            return set(self.index.contract(address).metrics)
        except AddressError:
            return set()

    def _of(self, address: str) -> list[tuple[Product, Metric]]:
        product = self.product(address)
        return [(product, m) for m in product.metrics]

    def product(self, address: str) -> Product:
        domain = address.split(".")[0]
        found = next((p for p in self.domain(domain).products if p.product_address == address), None)
        if found is None:
            raise MetricError(f"there is no product {address}")
        return found

    def catalogue(self, home: Product) -> Catalogue:
        return Catalogue(offering(home), lambda address: offering(self.product(address)))

    def compile(self, question: Question, table: TableOf, dialect: Dialect) -> tuple[Product, Compiled]:
        """`question` compiled for `dialect`; its metrics may be names or addresses, and are asked
        from the first one's product."""
        home, _ = self.find(question.metrics[0])
        absolute = tuple(_absolute(self, ref) for ref in question.metrics)
        asked = Question(absolute, question.by, question.grain, question.where)
        return home, compile_question(asked, self.catalogue(home), table, dialect)


def _absolute(metrics: MetricsOfMesh, reference: str) -> str:
    product, metric = metrics.find(reference)
    return f"{product.product_address}.{metric.name}"


@dataclass(frozen=True)
class Answer:
    sql: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    snapshot: int  # the lake snapshot every port was read at

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(self.columns))


def ask(
    metrics: MetricsOfMesh, question: Question, warehouse: Warehouse, at: int | datetime | str | None = None
) -> Answer:
    """The answer to `question` from the lake, every port read at one snapshot: the current one, or
    the one `at` names (a snapshot id, a time, or a version of the first metric's product)."""
    home, _ = metrics.find(question.metrics[0])
    con = warehouse.reader()
    lake = warehouse.lake
    try:
        first = f"{home.product_address}.{home.output_ports[0].name}"
        snapshot = lake.resolve(con, first, at) if at is not None else lake.current_snapshot(con)
        assert snapshot is not None
        made: dict[str, tuple[str, list[str]]] = {}  # view -> the port it reads, and the port's columns

        def table(address: str) -> exp.Expr:
            name = "metric__" + address.replace(".", "__")
            if name not in made:
                relation = lake.read(con, address, snapshot)
                relation.create_view(name, replace=True)
                made[name] = (address, relation.columns)
            return exp.to_table(name)

        _, compiled = metrics.compile(question, table, "duckdb")
        rows = con.execute(compiled.sql).fetchall()
        read = columns_read(compiled.sql, {name: columns for name, (_, columns) in made.items()}) or {}
        for name, (address, columns) in sorted(made.items()):
            warehouse.record(address, sorted(read.get(name, columns)))
    except NotPublished as error:
        raise MetricError(str(error)) from None
    except duckdb.Error as error:
        raise MetricError(f"the lake could not answer: {str(error).splitlines()[0]}") from None
    finally:
        con.close()
    return Answer(compiled.sql, compiled.columns, rows, int(snapshot))


def query(
    metrics: str | Sequence[str],
    by: Sequence[str] = (),
    grain: Grain | None = None,
    where: str | None = None,
    at: int | datetime | str | None = None,
    workspace: Path | str = "workspace.yaml",
    warehouse: Warehouse | None = None,
) -> pd.DataFrame:
    """A metric question answered from the lake as a DataFrame: one column per dimension grouped
    by (`metric_time` first, at `grain`), then one per metric."""
    from platform_core.settings import Settings

    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    question = Question(names, tuple(by), grain, where)
    found = MetricsOfMesh.of_workspace(Path(workspace).resolve())
    return ask(found, question, warehouse or Warehouse.from_settings(Settings.from_env()), at).frame()


# --- a metric in words, as the CLI and the docs site show it ------------------------------------

_VERB = {
    "sum": "the sum of",
    "count": "the number of",
    "count_distinct": "the number of distinct",
    "avg": "the average of",
    "min": "the smallest",
    "max": "the largest",
}


def in_words(product: Product, metric: Metric) -> str:
    """What a metric computes, in one sentence a business reader follows."""
    if isinstance(metric, SimpleMetric):
        what = "rows" if metric.expression is None else metric.expression
        sentence = f"{_VERB[metric.aggregation]} {what} of {product.address(metric.port)}"
        if metric.filter:
            sentence += f", over the rows where {metric.filter}"
        return sentence
    if isinstance(metric, RatioMetric):
        return f"{metric.numerator} divided by {metric.denominator} (no value where {metric.denominator} is 0)"
    return f"{metric.expression}, from {', '.join(metric.components)}"


def metric_rows(metrics: MetricsOfMesh) -> list[dict[str, Any]]:
    """One row per metric of the mesh: address, label, kind, how it is grouped, its definition."""
    rows: list[dict[str, Any]] = []
    for product, metric in metrics.all():
        dimensions, grains = metrics.catalogue(product).grouping(metric.name)
        rows.append(
            {
                "address": f"{product.product_address}.{metric.name}",
                "label": metric.label,
                "type": metric.type,
                "description": metric.description,
                "definition": in_words(product, metric),
                "dimensions": sorted(dimensions),
                "grains": list(grains),
                "owner": product.owner.name or product.owner.team,
            }
        )
    return rows


def documented(products: Mapping[str, Product], product: Product) -> list[dict[str, object]]:
    """Each metric of `product` as the docs site shows it: in words, how to ask it in the serving
    database, what it may be grouped by, and the SQL that answers it there. `products` are the
    mesh's, by address."""
    if not product.metrics:
        return []
    catalogue = catalogue_among(products, product)
    shown: list[dict[str, object]] = []
    for metric in product.metrics:
        address = f"{product.product_address}.{metric.name}"
        dimensions, grains = catalogue.grouping(metric.name)
        example = [g for g in ("month",) if g in grains] + list(dimensions)[:1]
        sql = compile_question(
            Question((address,), tuple(list(dimensions)[:1]), "month" if "month" in grains else None),
            catalogue,
            served_view,
            "postgres",
        ).sql
        shown.append(
            {
                "metric": metric,
                "definition": in_words(product, metric),
                "dimensions": list(dimensions),
                "grains": list(grains),
                "call": f"SELECT * FROM {product.domain}.{metric.name}("
                + ", ".join(f"'{part}'" for part in example)
                + ")",
                "sql": sqlglot.transpile(sql, read="postgres", write="postgres", pretty=True)[0],
            }
        )
    return shown
