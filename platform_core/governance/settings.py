"""The policies in force for a domain: the global set, made stricter where its `domain.yaml` says.

    policies:
      - {use: useful_descriptions, product: 80, severity: error}   # a global policy, made stricter
      - {name: hr_tags, use: required_tags, tags: [hr]}            # a policy of the domain's own

A domain may raise a threshold, turn a `warn` into an `error`, and add policies of its own
kinds. Weakening a global policy (a lower threshold, `error` made `warn`) or switching one
off is itself an error, naming the setting.
"""

from __future__ import annotations

from collections.abc import Mapping

from platform_core.descriptors.files import display_path
from platform_core.descriptors.spec import CLASSIFICATION_ORDER, Domain, PolicySetting
from platform_core.errors import Problem
from platform_core.governance.policies import KINDS, Param, Policy, global_policies


def policies_in_force(domain: Domain) -> tuple[list[Policy], list[Problem]]:
    """The domain's policies, in order, and the problems of its settings."""
    where = display_path(domain.directory / "domain.yaml")
    policies = {policy.name: policy for policy in global_policies()}
    problems: list[Problem] = []
    for i, setting in enumerate(domain.policies):
        field = f"policies[{i}]"
        kind = KINDS.get(setting.use)
        if kind is None:
            problems.append(
                Problem(where, f"{field}.use", f"unknown policy {setting.use!r}; policies: {', '.join(sorted(KINDS))}")
            )
            continue
        unknown = sorted(set(setting.params) - set(kind.params))
        if unknown:
            problems.append(
                Problem(
                    where,
                    field,
                    f"{setting.use} takes no {', '.join(unknown)}"
                    + (f"; it takes {', '.join(sorted(kind.params))}" if kind.params else ""),
                )
            )
            continue
        name = setting.name or setting.use
        base = policies.get(name)
        if setting.name is not None and base is not None:
            problems.append(
                Problem(
                    where,
                    f"{field}.name",
                    f"{name!r} is a global policy's name: write {{use: {name}, ...}} to make it stricter",
                )
            )
            continue
        if base is None:
            wrong = next(
                (f"{k}: {reason}" for k, v in setting.params.items() if (reason := _wrong_type(kind.params[k], v))),
                None,
            )
            if wrong:
                problems.append(Problem(where, field, f"{setting.use} {wrong}"))
                continue
            params = {k: p.default for k, p in kind.params.items()} | setting.params
            policies[name] = Policy(name, kind, setting.severity or "error", params, where)
            continue
        weaker = _weakening(base, setting)
        if weaker:
            problems.append(
                Problem(
                    where,
                    field,
                    f"weakens the global policy {name}: {weaker}; a domain may make "
                    "a global policy stricter, never weaker",
                )
            )
            continue
        policies[name] = Policy(
            name,
            kind,
            setting.severity or base.severity,
            {**base.params, **setting.params},
            f"global, made stricter by {where}",
        )
    return list(policies.values()), problems


def _weakening(base: Policy, setting: PolicySetting) -> str | None:
    """How `setting` weakens `base`, or None when it only keeps or tightens it."""
    if base.severity == "error" and setting.severity == "warn":
        return "error made warn"
    for name, value in setting.params.items():
        param: Param = base.kind.params[name]
        reason = _weaker(param, base.params[name], value)
        if reason:
            return f"{name} {reason}"
    return None


def _wrong_type(param: Param, value: object) -> str | None:
    """Why `value` cannot be the parameter's, or None: its type is the default's."""
    if isinstance(param.default, list):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else f"{value!r} is not a list of text"
    if isinstance(param.default, str):
        return None if value in CLASSIFICATION_ORDER else f"{value!r} is not one of {', '.join(CLASSIFICATION_ORDER)}"
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return None if ok else f"{value!r} is not a number"


def _weaker(param: Param, current: object, wanted: object) -> str | None:
    if wrong := _wrong_type(param, wanted):
        return wrong
    if param.stricter in ("more", "less"):
        assert isinstance(current, list)  # a list parameter's value: its default, or a setting held to its type
        current_set, wanted_set = set(current), set(wanted if isinstance(wanted, list) else [wanted])
        dropped = current_set - wanted_set
        return f"drops {', '.join(sorted(map(str, dropped)))}" if param.stricter == "more" and dropped else None
    if isinstance(current, str):  # a classification level: lower is stricter
        order = CLASSIFICATION_ORDER
        return f"{wanted} is above {current}" if order.index(str(wanted)) > order.index(current) else None
    # what is left is a number, as the parameter's default: `current` is one, `wanted` was held to it above
    assert isinstance(current, int | float) and isinstance(wanted, int | float)
    if param.stricter == "higher" and wanted < current:
        return f"{wanted} is below {current}"
    if param.stricter == "lower" and wanted > current:
        return f"{wanted} is above {current}"
    return None


def describe(policy: Policy) -> Mapping[str, object]:
    """A policy as `mesh policies` lists it."""
    return {
        "name": policy.name,
        "severity": policy.severity,
        "kind": policy.kind.name,
        "params": dict(policy.params),
        "source": policy.source,
        "description": policy.kind.description,
        "hint": policy.kind.hint,
        "where": "mesh check" if policy.kind.scope == "mesh" else "load and mesh check",
    }
