"""Durations as descriptors and settings write them (`30m`, `26h`, `7d`, `1d12h`): apart from the
descriptor types (platform_core.descriptors.types) so that reading the settings needs no pydantic."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value).strip()) if isinstance(value, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"bad duration {value!r}: write it like 30m, 26h, 7d or 1d12h")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes)
    if duration <= timedelta(0):
        raise ValueError(f"bad duration {value!r}: must be positive")
    return duration


def format_duration(value: timedelta) -> str:
    """26h stays 26h; only whole days read as days (2d)."""
    minutes = int(value.total_seconds() // 60)
    if minutes and minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    hours, minutes = divmod(minutes, 60)
    return ((f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")) or "0m"
