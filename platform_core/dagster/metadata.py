"""What the UI shows of a step: owners, tags, column schema and lineage, materialization
metadata, and check results."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeAlias

import dagster as dg

from platform_core.descriptors.addresses import AddressError
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.spec import Column, FileInput, Port, PortInput, Product, Step
from platform_core.execution.products import StepOutcome
from platform_core.quality.results import RULES_METADATA, RuleResult
from platform_core.storage.lake import Publication, table_name

# A metadata value as Dagster takes it, of the kinds written here (Dagster's own alias,
# RawMetadataValue, is private): converted to a MetadataValue by Dagster itself.
RawMetadataValue: TypeAlias = dg.MetadataValue | dg.TableColumnLineage | str | int | float | None


def asset_key(product: Product, name: str) -> dg.AssetKey:
    return dg.AssetKey(list(product.key_path(name)))


def dependency_key(product: Product, name: str) -> dg.AssetKey:
    """A step of this product, or the asset of another product's port: addresses map 1:1 to keys
    (a port pinned to a previous major is the asset it is built as, `<port>__v<major>`)."""
    source = product.input(name)
    if not isinstance(source, PortInput):
        return asset_key(product, name)
    try:
        resolved = MeshIndex.of(product).resolve(source.address)
    except AddressError:
        return dg.AssetKey(list(source.parts))
    return dg.AssetKey([*resolved.producer.product.split("."), resolved.published_as])


EPHEMERAL_NOTE = "no: ephemeral, the step's table lives only for the run that builds it"


def table_of(product: Product, step: Step) -> str:
    """Where a reader finds the step: a port in the lake, an internal table in the domain's compute database."""
    if isinstance(step, Port):
        return ".".join(("lake", *table_name(product.address(step.name))))
    return f"{product.domain}.{product.name}.{step.name}"


def owners(product: Product) -> list[str]:
    return [f"team:{product.owner.team}"] + ([product.owner.contact] if product.owner.contact else [])


def tags(product: Product, layer: str, step: Step) -> dict[str, str]:
    result = {"layer": layer, "product": product.name, "domain": product.domain}
    if isinstance(step, Port):
        result.update({"port": step.kind, "classification": step.effective_classification})
    else:
        result["classification"] = "internal"
    result.update(dict.fromkeys(product.tags, ""))
    return result


def column_schema(product: Product, step: Step) -> dg.TableSchema:
    def describe_column(column: Column) -> str:
        level = step.column_classification(column) if isinstance(step, Port) else column.classification
        return column.description + (f" [{level}]" if level else "")

    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=c.type,
                description=describe_column(c),
                constraints=dg.TableColumnConstraints(nullable=c.nullable, unique=c.unique),
            )
            for c in step.columns
        ]
    )


def definition_metadata(product: Product, layer: str, step: Step) -> dict[str, object]:
    kept = step.name not in product.ephemeral_steps
    metadata: dict[str, object] = {
        "dagster/column_schema": column_schema(product, step),
        **({"dagster/table_name": table_of(product, step)} if kept else {"kept": EPHEMERAL_NOTE}),
        "product": f"{product.title} v{product.version} ({product.status})",
        "layer": layer,
        "consumers": dg.MetadataValue.md(
            "\n".join(f"- **{c.name}**: {c.purpose}" for c in product.consumers) or "none declared"
        ),
    }
    if isinstance(step, Port):
        metadata["address"] = product.address(step.name)
    if step.query is not None:
        asked = ", ".join(step.query.metrics)
        metadata["transform"] = f"metrics {asked}" + (f" by {', '.join(step.query.by)}" if step.query.by else "")
    else:
        transform = step.sql or step.python
        metadata["transform"] = dg.MetadataValue.path(str(product.directory / str(transform).split(":")[0]))
    return metadata


def upstream_columns(product: Product, name: str) -> set[str]:
    source = product.input(name)
    if isinstance(source, PortInput):
        return {c.name for c in MeshIndex.of(product).resolve(source.address).port.columns}
    return {c.name for c in product.step(name).columns}


def column_lineage(product: Product, step: Step) -> dg.TableColumnLineage | None:
    """Declared `source` columns, or a same-named column of exactly one upstream step or port."""
    upstream = {d: upstream_columns(product, d) for d in step.depends_on if not isinstance(product.input(d), FileInput)}
    deps: dict[str, list[dg.TableColumnDep]] = {}
    for column in step.columns:
        sources = [tuple(ref.split(".")) for ref in column.source]
        if not sources:
            owners_of_name = [table for table, names in upstream.items() if column.name in names]
            sources = [(owners_of_name[0], column.name)] if len(owners_of_name) == 1 else []
        found = [
            dg.TableColumnDep(asset_key=dependency_key(product, t), column_name=c) for t, c in sources if t in upstream
        ]
        if found:
            deps[column.name] = found
    return dg.TableColumnLineage(deps_by_column=deps) if deps else None


def materialization_metadata(
    product: Product, step: Step, outcome: StepOutcome, publication: Publication | None
) -> dict[str, RawMetadataValue]:
    metadata: dict[str, RawMetadataValue] = {
        "dagster/row_count": outcome.row_count,
        **(
            {"kept": EPHEMERAL_NOTE}
            if step.name in product.ephemeral_steps
            else {"compute_table": f"{product.domain}.{product.name}.{step.name}"}
        ),
    }
    lineage = column_lineage(product, step)
    if lineage is not None:
        metadata["dagster/column_lineage"] = lineage
    if publication is not None and isinstance(step, Port):
        metadata["lake_table"] = table_of(product, step)
        metadata["checksum"] = outcome.checksum
        metadata["lake_snapshot"] = publication.snapshot_id
        metadata["product_version"] = publication.version
        metadata["contract"] = publication.contract
    return metadata


def check_results(key: dg.AssetKey, results: Iterable[RuleResult]) -> Iterator[dg.AssetCheckResult]:
    for result in results:
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=result.check_name,
            passed=result.passed,
            severity=dg.AssetCheckSeverity.ERROR if result.severity == "error" else dg.AssetCheckSeverity.WARN,
            metadata={
                "failing_rows": result.failing_rows,
                **{k: _metadata_value(v) for k, v in result.observed.items()},
                **(
                    {RULES_METADATA: dg.MetadataValue.json([rule_entry(p) for p in result.parts])}
                    if result.parts
                    else {}
                ),
            },
            description=result.description,
        )


def rule_entry(result: RuleResult) -> dict[str, Any]:
    """One rule's result within a check's metadata (the schema check's nullability rules): a row of
    the `rules` table in the UI, and what `mesh status`, the alerts and the site read back."""
    return {
        "check": result.check_name,
        "passed": result.passed,
        "severity": result.severity,
        "failing_rows": result.failing_rows,
        "description": result.description,
        **{k: v for k, v in result.observed.items() if k != "sample"},
        **({"sample": result.observed["sample"]} if "sample" in result.observed else {}),
    }


def _metadata_value(value: Any) -> RawMetadataValue:
    # what a rule observed (RuleResult.observed, untyped): numbers, text, lists of values, a sample of rows
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return dg.MetadataValue.json(value)  # a sample of failing rows: a table in the UI
    return ", ".join(map(str, value)) if isinstance(value, list) else value
