"""Consumer-driven contracts: what consumers expect of a port, checked by its producer before publishing.

A consumer declares on its port input what it relies on (`expects:` columns, with their type when
it matters; rules over the rows; how fresh the producer promises to be). The loader hands each of
the producer's ports what every consumer expects of it (`Port.expected`); the rules run with the
port's own, under the consumer's name, and one check per consumer holds the columns and the
freshness promise. All are blocking: a version that breaks a consumer's expectation is not
published, and the run says whose, and who to talk to.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from platform_core.descriptors.column_types import duckdb_type, type_matches
from platform_core.descriptors.freshness import freshness_of
from platform_core.descriptors.spec import CronFreshness, Expectation, Port, Product
from platform_core.descriptors.types import format_duration
from platform_core.quality.results import RuleResult

if TYPE_CHECKING:  # the checks' names and descriptions are read without DuckDB (`mesh status`)
    import duckdb


def expectation_results(
    con: duckdb.DuckDBPyConnection, table: str, product: Product, port: Port, results: tuple[RuleResult, ...]
) -> tuple[RuleResult, ...]:
    """`results` (the port's audit) with each consumer's rules said to be theirs, then one result per
    consumer for the columns and freshness it expects of `table`, the port as built."""
    if not port.expected:
        return results
    types = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall()}
    owners = {e.check_name: e for e in port.expected}
    said = tuple(_said(r, owners) for r in results)
    return said + tuple(_promise(e, product, types) for e in port.expected)


def _said(result: RuleResult, owners: dict[str, Expectation]) -> RuleResult:
    """A result of a consumer's rule, naming the consumer and its owner."""
    expectation = next((e for name, e in owners.items() if result.check_name.startswith(name + "__")), None)
    if expectation is None:
        return result
    return replace(
        result,
        observed={**result.observed, "expected_by": expectation.consumer, "ask": expectation.asking},
        description=f"Expected by {expectation.consumer}: {result.description}",
    )


def _promise(expectation: Expectation, product: Product, types: dict[str, str]) -> RuleResult:
    """Whether the port has the columns (and types) the consumer expects, and the product promises
    to be as fresh as it expects."""
    problems = []
    for column in expectation.expects.expected_columns:
        if column.name not in types:
            problems.append(f"no column {column.name}")
        elif column.type is not None and not type_matches(column.type, types[column.name]):
            problems.append(f"{column.name} is {types[column.name]}, expected {duckdb_type(column.type)}")
    wanted = expectation.expects.freshness
    if wanted is not None:
        promised = freshness_of(product)
        if isinstance(promised, CronFreshness):
            if promised.lower_bound > wanted:
                old = format_duration(promised.lower_bound)
                problems.append(
                    f"data may be {old} old at {promised.cron} ({promised.timezone}), expected at most "
                    f"{format_duration(wanted)}"
                )
        elif promised.fail_after > wanted:
            problems.append(
                f"the freshness SLA fails after {format_duration(promised.fail_after)}, expected at most "
                f"{format_duration(wanted)}"
            )
    return RuleResult(
        expectation.check_name,
        "error",
        not problems,
        0,
        {
            "expected_by": expectation.consumer,
            "ask": expectation.asking,
            **({"problems": problems} if problems else {}),
        },
        expectation_description(expectation),
    )


def expectation_description(expectation: Expectation) -> str:
    """What a consumer's check of columns and freshness asks, in words."""
    columns = ", ".join(c.name for c in expectation.expects.expected_columns) or "none named"
    wanted = expectation.expects.freshness
    return (
        f"What {expectation.consumer} relies on: the columns {columns}"
        + (f", data at most {format_duration(wanted)} old" if wanted else "")
        + f" (ask {expectation.asking})."
    )
