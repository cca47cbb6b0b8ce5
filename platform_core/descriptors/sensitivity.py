"""Where a port's sensitive values come from: personal columns and restricted ports, followed
through the product's steps by the columns each step carries (platform_core.descriptors.lineage).

A column is personal where it is declared so, in this product or in the port another product
publishes; a column made from one carries it on. A port input that is restricted makes every
column taken from it restricted data. Only steps that read something sensitive are parsed.
"""

from __future__ import annotations

from collections.abc import Callable

from platform_core.descriptors.lineage import Source, column_sources
from platform_core.descriptors.reads import dependency_columns, input_port, step_sql
from platform_core.descriptors.spec import FileInput, Port, PortInput, Product, Step


class Sensitivity:
    """The sensitive origins of each column of a product's steps (memoized per step)."""

    def __init__(self, product: Product) -> None:
        self.product = product
        self._personal: dict[str, dict[str, frozenset[str]]] = {}
        self._restricted: dict[str, dict[str, frozenset[str]]] = {}

    def personal(self, step_name: str) -> dict[str, frozenset[str]]:
        """Per column of the step: the personal columns (`step.column`, or a port's address and
        column) its values come from; a column declared personal is its own origin."""
        if step_name not in self._personal:
            step = self.product.step(step_name)
            declared = {
                c.name: frozenset({f"{step.name}.{c.name}"})
                for c in step.columns
                if (step.column_classification(c) if isinstance(step, Port) else c.classification) == "personal"
            }
            carried = self._carried(step, self._personal_of)
            self._personal[step_name] = {
                c.name: declared.get(c.name) or carried.get(c.name, frozenset()) for c in step.columns
            }
        return self._personal[step_name]

    def restricted(self, step_name: str) -> dict[str, frozenset[str]]:
        """Per column of the step: the restricted ports (addresses) its values come from."""
        if step_name not in self._restricted:
            step = self.product.step(step_name)
            carried = self._carried(step, self._restricted_of)
            self._restricted[step_name] = {c.name: carried.get(c.name, frozenset()) for c in step.columns}
        return self._restricted[step_name]

    # --- what a dependency holds ------------------------------------------------------------------

    def _personal_of(self, dependency: str) -> dict[str, frozenset[str]]:
        source = self.product.input(dependency)
        if isinstance(source, PortInput):
            port = input_port(self.product, source)
            if port is None:
                return {}
            return {
                c.name: frozenset({f"{source.address}.{c.name}"})
                for c in port.columns
                if port.column_classification(c) == "personal"
            }
        if isinstance(source, FileInput):
            return {}
        return {name: found for name, found in self.personal(dependency).items() if found}

    def _restricted_of(self, dependency: str) -> dict[str, frozenset[str]]:
        source = self.product.input(dependency)
        if isinstance(source, PortInput):
            port = input_port(self.product, source)
            if port is None or port.access != "restricted":
                return {}
            return {c.name: frozenset({source.address}) for c in port.columns}
        if isinstance(source, FileInput):
            return {}
        return {name: found for name, found in self.restricted(dependency).items() if found}

    # --- what a step carries ----------------------------------------------------------------------

    def _carried(self, step: Step, holds: Callable[[str], dict[str, frozenset[str]]]) -> dict[str, frozenset[str]]:
        """The sensitive origins each column of `step` carries, given what each dependency holds."""
        held = {dependency: holds(dependency) for dependency in step.depends_on}
        if not any(held.values()):
            return {}  # nothing sensitive to follow: no need to parse
        carried: dict[str, frozenset[str]] = {}
        for column, sources in self.sources(step).items():
            origins = frozenset(o for dependency, name in sources for o in held.get(dependency, {}).get(name, ()))
            if origins:
                carried[column] = origins
        return carried

    def sources(self, step: Step) -> dict[str, frozenset[Source]]:
        """Per column of the step, the (dependency, column) its values come from: parsed from its SQL,
        declared with `source`, or (a pandas step) the dependencies' columns of the same name."""
        declared: dict[str, frozenset[Source]] = {
            c.name: frozenset((ref.split(".", 1)[0], ref.split(".", 1)[1]) for ref in c.source if "." in ref)
            for c in step.columns
        }
        if step.sql is not None or step.query is not None:
            sql = step_sql(self.product, step)
            schema = {dependency: dependency_columns(self.product, dependency) for dependency in step.depends_on}
            parsed = column_sources(sql, schema) if sql else {}
            if not parsed:  # not followed: every column may carry anything it reads
                everything = frozenset((d, c) for d, columns in schema.items() for c in columns)
                return {c.name: everything for c in step.columns}
            return {c.name: parsed.get(c.name, frozenset()) | declared[c.name] for c in step.columns}
        same_name = {
            c.name: frozenset((d, c.name) for d in step.depends_on if c.name in dependency_columns(self.product, d))
            for c in step.columns
        }
        return {c.name: declared[c.name] | same_name[c.name] for c in step.columns}
