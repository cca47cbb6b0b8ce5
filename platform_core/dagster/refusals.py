"""Why a domain's code location does not load in Dagster, told without loading it.

`mesh check`, `mesh status` and the alerts must not call healthy a location the UI shows as an
error: a domain that breaks a governance policy of severity `error`, or whose definitions Dagster
refuses. Learning the second means building the domain's definitions, and importing Dagster, which
takes longer than the rest of those commands together. Dagster's answer only changes with the
domain's files, its mesh's descriptors, the platform and the settings, so it is kept in the
descriptor cache under exactly those (platform_core.descriptors.cache), and Dagster is imported
only when a domain changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from platform_core.catalog.health import refused
from platform_core.descriptors.cache import remembered_verdict
from platform_core.descriptors.spec import Domain
from platform_core.governance.evaluate import Violation, govern, governance_context
from platform_core.settings import Settings


def refusals(domains: Iterable[Domain], settings: Settings) -> dict[str, str]:
    """Why each domain's code location does not load in Dagster (governance errors, a definition
    Dagster refuses), by domain: what the UI shows as a load error."""
    found = {}
    for domain in domains:
        refused = location_refusal(domain, govern(domain, governance_context(domain, settings)), settings)
        if refused:
            found[domain.name] = refused
    return found


def location_refusal(spec: Domain, violations: list[Violation], settings: Settings) -> str | None:
    """Why Dagster does not load the domain's code location, in words, or None."""
    errors = [v for v in violations if v.severity == "error"]
    if errors:
        policies = ", ".join(sorted({v.policy for v in errors}))
        return refused(f"{len(errors)} governance error(s) ({policies})")
    problem = dagster_problem(spec, settings)
    return refused(problem) if problem else None


def dagster_problem(spec: Domain, settings: Settings) -> str | None:
    """Why Dagster would refuse to load the domain's definitions, or None: `mesh check` asks, so
    that what it accepts also loads in Dagster."""
    return remembered_verdict(spec, f"dagster loads it\0{settings!r}", lambda: _ask_dagster(spec, settings))


def _ask_dagster(spec: Domain, settings: Settings) -> str | None:
    import dagster as dg

    from platform_core.dagster.factory import definitions_of

    try:
        dg.Definitions.validate_loadable(definitions_of(spec, settings, []))
    except Exception as error:  # noqa: BLE001 - any refusal is the answer
        return f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
    return None
