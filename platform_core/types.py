"""Small validated value types shared by the descriptor models."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from platform_core.names import identifier_problem


class Spec(BaseModel):
    """Base of every descriptor model: immutable, and unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _identifier(value: str) -> str:
    problem = identifier_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _column_name(value: str) -> str:
    problem = identifier_problem(value, column=True)
    if problem:
        raise ValueError(problem)
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
ColumnName = Annotated[str, AfterValidator(_column_name)]

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
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text or "0m"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration)]

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def _semver(value: str) -> str:
    if not _SEMVER.match(value):
        raise ValueError(f"bad version {value!r}: use semantic versioning, e.g. 1.0.0")
    return value


SemVer = Annotated[str, AfterValidator(_semver)]

_TAG = re.compile(r"^[A-Za-z0-9_.-]{1,63}$")


def _tag(value: str) -> str:
    if not _TAG.match(value):
        raise ValueError(f"bad tag {value!r}: letters, digits, '_', '.', '-', at most 63 characters")
    return value


Tag = Annotated[str, AfterValidator(_tag)]

_TEAM = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _team(value: str) -> str:
    if not _TEAM.match(value):
        raise ValueError(f"bad team {value!r}: a slug such as hr-data (a-z, 0-9, '-')")
    return value


Team = Annotated[str, AfterValidator(_team)]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"bad e-mail address {value!r}")
    return value


Email = Annotated[str, AfterValidator(_email)]


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


Text = Annotated[str, AfterValidator(_text)]
