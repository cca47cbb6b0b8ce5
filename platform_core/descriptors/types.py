"""Small validated value types shared by the descriptor models."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from platform_core.descriptors.durations import format_duration, parse_duration
from platform_core.descriptors.names import COLUMN, IDENTIFIER, identifier_problem, namespace_problem


class Spec(BaseModel):
    """Base of every descriptor model: immutable, and unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _pattern(pattern: str, description: str) -> WithJsonSchema:
    """What an editor shows and checks of a value (the JSON Schema); the validators decide."""
    return WithJsonSchema({"type": "string", "pattern": pattern, "description": description})


def _named(column: bool = False, namespace: bool = False) -> AfterValidator:
    def check(value: str) -> str:
        problem = namespace_problem(value) if namespace else identifier_problem(value, column=column)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


Identifier = Annotated[
    str, _named(column=False), _pattern(IDENTIFIER.pattern, "snake_case: a-z, 0-9 and _, starting with a letter")
]
ColumnName = Annotated[str, _named(column=True), _pattern(COLUMN.pattern, "snake_case, maybe starting with one _")]
# Names of domains and products, which become DuckDB catalogs and schemas.
Namespace = Annotated[
    str,
    _named(namespace=True),
    _pattern(r"^[a-z](?!.*__)[a-z0-9_]*[a-z0-9]$|^[a-z]$", "snake_case, no '__', no '_' at the end"),
]

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration),
    _pattern(r"^(?=\d)(\d+d)?(\d+h)?(\d+m)?$", "a duration such as 30m, 26h, 7d or 1d12h"),
]


def _matching(pattern: str, problem: str) -> AfterValidator:
    """A validator accepting strings that match `pattern`; `problem` is formatted with the value."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(problem.format(value=value))
        return value

    return AfterValidator(check)


_TAG, _TEAM = r"^[A-Za-z0-9_.-]{1,63}$", r"^[a-z0-9][a-z0-9-]*$"
Tag = Annotated[
    str,
    _matching(_TAG, "bad tag {value!r}: letters, digits, '_', '.', '-', at most 63 characters"),
    _pattern(_TAG, "letters, digits, '_', '.', '-'"),
]
Team = Annotated[
    str,
    _matching(_TEAM, "bad team {value!r}: a slug such as hr-data (a-z, 0-9, '-')"),
    _pattern(_TEAM, "a slug such as hr-data"),
]
# Dagster takes an owner that is an e-mail address only in this shape (its own rule, kept here so
# that validating a descriptor needs no Dagster; tests/test_dagster_rules.py holds the two equal).
_DAGSTER_EMAIL = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,7}$"
Email = Annotated[
    str,
    _matching(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "bad e-mail address {value!r}"),
    _matching(
        _DAGSTER_EMAIL,
        "Dagster refuses it: Invalid owner {value!r}. Owner must be an email "
        "address or a team name prefixed with 'team:'.",
    ),
    _pattern(_DAGSTER_EMAIL, "an e-mail address: name@domain.tld"),
]


def email_problem(value: str) -> str | None:
    """Why `value` cannot be an owner's contact address, or None."""
    try:
        TypeAdapter(Email).validate_python(value)
    except ValidationError as error:
        return str(error.errors()[0]["ctx"]["error"])
    return None


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


Text = Annotated[str, AfterValidator(_text)]
