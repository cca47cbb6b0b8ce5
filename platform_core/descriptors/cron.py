"""Cron expressions as a schedule or a freshness SLA writes them, checked without Dagster.

Five fields (minute, hour, day of month, month, day of week), each `*` or a list of values and
ranges with an optional step (`*/15`, `1-5`, `mon-fri`, `0,30`), or one of the `@hourly` ...
`@yearly` shorthands. It is the part of cron every scheduler reads the same way; Dagster accepts
all of it (tests/test_dagster_rules.py holds this module to Dagster's own answers), so what the
loader accepts also schedules.
"""

from __future__ import annotations

import re

SHORTHANDS = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (lowest, highest, names) per field; names count from the lowest value
_FIELDS = ((0, 59, ()), (0, 23, ()), (1, 31, ()), (1, 12, _MONTHS), (0, 7, _DAYS))
_ITEM = re.compile(r"^(?:(\*)|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:/([0-9]+))?$")
EXAMPLE = 'use five fields, e.g. "0 6 * * *"'


def cron_problem(cron: str) -> str | None:
    """Why `cron` is not a cron expression a schedule can use, or None."""
    text = cron.strip().lower()
    if text in SHORTHANDS:
        return None
    fields = text.split()
    if len(fields) != 5 or not all(_field_ok(value, *spec) for value, spec in zip(fields, _FIELDS, strict=True)):
        return f"bad cron expression {cron!r}: {EXAMPLE}"
    day, month = fields[2], fields[3]
    if month in ("2", "feb") and day in ("30", "31"):
        return f"bad cron expression {cron!r}: February has no day {day}"
    return None


def _field_ok(field: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    for item in field.split(","):
        match = _ITEM.match(item)
        if match is None:
            return False
        star, first, last, step = match.groups()
        if step is not None and int(step) == 0:
            return False
        if star:
            continue
        start, end = _value(first, low, names), _value(last, low, names) if last else None
        if start is None or not low <= start <= high or (last and (end is None or not start <= end <= high)):
            return False
    return True


def _value(text: str, low: int, names: tuple[str, ...]) -> int | None:
    if text.isdigit():
        return int(text)
    return names.index(text) + low if text in names else None
