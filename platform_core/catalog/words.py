"""Descriptor facts in plain words, for the docs site's business readers.

A quality rule reads as a promise ("hours is between 0 and 16"), a daily cron as a time of
day, a health state as a sentence; the technical form stays beside it on the page for those
who want it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from platform_core.descriptors.rules import (
    AcceptedValues,
    Expression,
    MaxAge,
    NotNull,
    Range,
    Relationships,
    RowCount,
    Rule,
    Unique,
)
from platform_core.descriptors.spec import Schedule
from platform_core.descriptors.types import format_duration

STATE_TEXT = {
    "healthy": "Healthy: published, fresh, and every check passed",
    "stale": "Stale: not refreshed within its SLA",
    "failing_checks": "Failing checks: the latest run did not pass its quality checks",
    "failed_run": "Failed run: the latest run stopped with an error",
    "never_materialized": "Never built: no version has been published yet",
    "not_loaded": "Not loaded: its code location does not load in Dagster, so nothing builds it",
}
FRESHNESS_TEXT = {
    "pass": "on time (within its SLA)",
    "warn": "late: past its warning threshold",
    "fail": "overdue: past its SLA",
    "unknown": "unknown",
}


@dataclass(frozen=True)
class Promise:
    """One sentence of a port's quality promises, and the checks that keep it."""

    text: str
    checks: tuple[str, ...]
    blocking: bool


def promises(rules: Sequence[Rule]) -> list[Promise]:
    """The rules as sentences. A port often has a dozen not-null rules (one per column marked
    `nullable: false`): those of one severity read as one sentence instead of a dozen."""
    plain_not_null = [r for r in rules if isinstance(r, NotNull) and not r.description]
    grouped = []
    for blocking in (True, False):
        group = [r for r in plain_not_null if (r.severity == "error") == blocking]
        if group:
            verb = "is" if len(group) == 1 else "are"
            grouped.append(
                Promise(
                    f"{_and(tuple(r.column for r in group))} {verb} always filled in",
                    tuple(r.check_name for r in group),
                    blocking,
                )
            )
    others = [r for r in rules if not any(r is n for n in plain_not_null)]
    return grouped + [Promise(rule_text(r), (r.check_name,), r.severity == "error") for r in others]


def rule_text(rule: Rule) -> str:
    """The rule as a sentence, with its own description when it has one."""
    text = _promise(rule)
    return f"{text} ({rule.description})" if rule.description else text


def _promise(rule: Rule) -> str:
    match rule:
        case NotNull():
            return f"{rule.column} is always filled in"
        case Unique():
            return f"no two rows have the same {_and(rule.columns)}"
        case AcceptedValues():
            return f"{rule.column}, when filled in, is one of: {', '.join(_value(v) for v in rule.values)}"
        case Range():
            return f"{rule.column}, when filled in, is {_bounds(rule.min, rule.max)}"
        case Relationships():
            return f"every {rule.column} exists as {rule.field} in {rule.to}"
        case RowCount():
            return f"the number of rows is {_bounds(rule.min, rule.max)}"
        case MaxAge():
            return f"the newest {rule.column} is at most {format_duration(rule.max_age)} old"
        case Expression():
            return f"every row satisfies {rule.expression}"
    raise TypeError(f"no wording for rule {rule!r}")  # a rule added to the language needs its sentence here


def _and(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _value(value: bool | str | int) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


def schedule_text(schedule: Schedule) -> str:
    """`0 6 * * *` as "every day at 06:00"; other crons as they are written."""
    fields = schedule.cron.split()
    if len(fields) == 5 and fields[2:] == ["*", "*", "*"] and fields[0].isdigit() and fields[1].isdigit():
        when = f"every day at {int(fields[1]):02d}:{int(fields[0]):02d}"
    else:
        when = f"on the schedule {schedule.cron}"
    paused = "" if schedule.enabled else " (paused)"
    return f"{when}, {schedule.timezone} time{paused}"


def timestamp_text(moment: datetime) -> str:
    """A moment to the minute, in UTC when its time zone is known."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M")
