"""A domain's code location: every product of the domain, built through the DataProduct component.

`build_domain` is the single call a domain's `definitions.py` makes. The domain's descriptors are
validated (or read back from the descriptor cache), its governance policies evaluated (an `error`
stops the location, warnings become each port's `policies` check), and each product is compiled
by `DataProduct`, the same component type a `dg` project declares products with.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import dagster as dg

from platform_core.dagster.component import DataProduct
from platform_core.dagster.product import follow_sensor
from platform_core.descriptors.cache import collection_paused, load_domain_cached, sources_fingerprint
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.spec import Domain
from platform_core.errors import PlatformError, Problem
from platform_core.governance.evaluate import Violation, govern, governance_context, raise_errors
from platform_core.settings import Settings

# Dagster calls a location's definitions function several times per process (6 for one
# `dagster asset materialize`). The last build of each domain is kept, and used again while the
# mesh's files are unchanged; across processes, the validated descriptors come from the cache.
_BUILT: dict[tuple[Path, Settings], tuple[str, dg.Definitions]] = {}


def build_domain(domain: str | Path, settings: Settings | None = None) -> dg.Definitions:
    """Definitions of one domain: every product's assets, checks and schedule, and its resources.
    A domain that breaks a governance policy of severity `error` does not load (PlatformError).
    Built once per process while what the build reads is unchanged."""
    directory = (domain if isinstance(domain, Path) else domain_directory(domain)).resolve()
    settings = settings or Settings.from_env()
    index = MeshIndex.around(directory)
    fingerprint = sources_fingerprint(directory, index)
    built = _BUILT.get((directory, settings))
    if built is None or built[0] != fingerprint:
        with collection_paused():
            spec = load_domain_cached(directory, fingerprint)
            violations = govern(spec, governance_context(spec, settings))
            raise_errors(spec, violations)
            _BUILT[(directory, settings)] = built = (fingerprint, definitions_of(spec, settings, violations))
    return built[1]


def definitions_of(spec: Domain, settings: Settings, violations: list[Violation]) -> dg.Definitions:
    """Each product through the DataProduct component, with the warnings about it."""
    warnings = [v for v in violations if v.severity == "warn"]
    sensors = (
        [follow_sensor(spec.name, f"domain {spec.name}", dg.AssetSelection.groups(spec.name))]
        if any(product.port_inputs for product in spec.products)
        else []
    )
    return dg.Definitions.merge(
        dg.Definitions(sensors=sensors),
        *(
            DataProduct.of(product).definitions(
                settings, [w for w in warnings if w.product == product.product_address], follow=False
            )
            for product in spec.products
        ),
    )


def domain_directory(name: str) -> Path:
    """The folder of package `domains.<name>`, found the way Python (and so Dagster) imports it."""
    spec = importlib.util.find_spec(f"domains.{name}")
    if spec is None or not spec.submodule_search_locations:
        raise PlatformError([Problem(f"domains/{name}", "", "no such domain package")], f"unknown domain {name!r}")
    return Path(next(iter(spec.submodule_search_locations)))
