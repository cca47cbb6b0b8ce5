"""A contract's column types and the DuckDB types that store and satisfy them.

A column is one of the logical types (`string`, `integer`, `double`, `decimal(p,s)`, `boolean`,
`date`, `timestamp`), or nested: `<type>[]` is a list, `struct(<name> <type>, ...)` a record
(`struct(name string, purpose string)[]` is a list of records). Nested columns are for SQL steps,
whose DuckDB types they name; the mesh's own catalog tables use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOGICAL_TYPES = ("string", "integer", "double", "decimal", "boolean", "date", "timestamp")
_DECIMAL = re.compile(r"^decimal\((\d{1,2}),\s*(\d{1,2})\)$")

# The DuckDB types a produced column may have to satisfy its declared type.
DUCKDB_TYPES = {
    "string": {"VARCHAR"},
    "integer": {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"},
    "double": {"DOUBLE", "FLOAT"},
    "boolean": {"BOOLEAN"},
    "date": {"DATE"},
    "timestamp": {"TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"},
}
# The type a pandas step's output is cast to, so both engines publish the contract's types.
CAST_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "decimal": "DECIMAL(18,2)",
}
ACCEPTED = (
    f"use one of {', '.join(LOGICAL_TYPES)} or decimal(p,s); <type>[] for a list, "
    "struct(<name> <type>, ...) for a record"
)


@dataclass(frozen=True)
class Nested:
    """A parsed type: a scalar (its text), a list of `item`, or a struct of named `fields`."""

    scalar: str | None = None
    item: Nested | None = None
    fields: tuple[tuple[str, Nested], ...] = ()


def column_type(value: str) -> str:
    """A declared type, normalized (`Decimal(10, 2)` -> `decimal(10,2)`); ValueError when unknown."""
    try:
        return _logical_text(_parse(value))
    except ValueError:
        raise ValueError(f"unknown type {value!r}: {ACCEPTED}") from None


def is_scalar(logical: str) -> bool:
    return not logical.endswith("]") and not logical.startswith("struct(")


def duckdb_type(logical: str) -> str:
    """The DuckDB type a contract's logical column type is stored as."""
    return _duckdb_text(_parse(logical))


def type_matches(logical: str, duckdb_type: str) -> bool:
    """Whether a produced DuckDB type satisfies a declared logical type."""
    try:
        return _matches(_parse(logical), _parse(duckdb_type))
    except ValueError:
        return False


def _matches(declared: Nested, actual: Nested) -> bool:
    if declared.item is not None or actual.item is not None:
        return declared.item is not None and actual.item is not None and _matches(declared.item, actual.item)
    if declared.fields or actual.fields:
        return [name for name, _ in declared.fields] == [name for name, _ in actual.fields] and all(
            _matches(d, a) for (_, d), (_, a) in zip(declared.fields, actual.fields, strict=True)
        )
    logical, produced = str(declared.scalar), str(actual.scalar).upper()
    if logical.startswith("decimal"):
        return produced.startswith("DECIMAL") and (logical == "decimal" or produced == logical.upper())
    return produced in DUCKDB_TYPES.get(logical, set())


def _logical_text(node: Nested) -> str:
    if node.item is not None:
        return _logical_text(node.item) + "[]"
    if node.fields:
        return "struct(" + ", ".join(f"{name} {_logical_text(t)}" for name, t in node.fields) + ")"
    text = str(node.scalar).lower()
    if text in LOGICAL_TYPES:
        return text
    match = _DECIMAL.match(text)
    if match and 0 < int(match[1]) <= 38 and int(match[2]) <= int(match[1]):
        return f"decimal({int(match[1])},{int(match[2])})"
    raise ValueError(text)


def _duckdb_text(node: Nested) -> str:
    if node.item is not None:
        return _duckdb_text(node.item) + "[]"
    if node.fields:
        return "STRUCT(" + ", ".join(f'"{name}" {_duckdb_text(t)}' for name, t in node.fields) + ")"
    return CAST_TYPES.get(str(node.scalar)) or str(node.scalar).upper()


# --- one parser for both spellings: ours (`struct(name string)[]`) and DuckDB's (`STRUCT("name" VARCHAR)[]`)

_TOKEN = re.compile(r'\s*("(?:[^"]|"")*"|\[\]|[(),]|[A-Za-z_][A-Za-z0-9_]*|\d+)')


def _parse(text: str) -> Nested:
    tokens = _tokens(text)
    node, rest = _type(tokens)
    if rest:
        raise ValueError(text)
    return node


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(text)
        tokens.append(match[1])
        position = match.end()
    return tokens


def _type(tokens: list[str]) -> tuple[Nested, list[str]]:
    if not tokens:
        raise ValueError("a type is missing")
    head, rest = tokens[0], tokens[1:]
    if head.lower() == "struct" and rest[:1] == ["("]:
        node, rest = _struct(rest[1:])
    elif head.lower() == "decimal" and rest[:1] == ["("] and len(rest) >= 5 and rest[2] == "," and rest[4] == ")":
        node, rest = Nested(scalar=f"decimal({rest[1]},{rest[3]})"), rest[5:]
    elif re.match(r"^[A-Za-z_]", head):
        words = [head]
        while (
            rest and re.match(r"^[A-Za-z_]\w*$", rest[0]) and rest[0].upper() in ("WITH", "TIME", "ZONE", "PRECISION")
        ):
            words.append(rest.pop(0))
        node = Nested(scalar=" ".join(words))
    else:
        raise ValueError(head)
    while rest[:1] == ["[]"]:
        node, rest = Nested(item=node), rest[1:]
    return node, rest


def _struct(tokens: list[str]) -> tuple[Nested, list[str]]:
    fields: list[tuple[str, Nested]] = []
    while True:
        if not tokens:
            raise ValueError("unclosed struct")
        name = tokens[0].strip('"').replace('""', '"')
        if not re.match(r"^_?[a-z][a-z0-9_]*$", name):
            raise ValueError(name)
        kind, tokens = _type(tokens[1:])
        fields.append((name, kind))
        if tokens[:1] == [")"]:
            return Nested(fields=tuple(fields)), tokens[1:]
        if tokens[:1] != [","]:
            raise ValueError("struct")
        tokens = tokens[1:]


def _case_blind(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


# What an editor accepts as a column type (the JSON Schema of descriptors): the scalars exactly,
# nested types by their shape (the loader parses them whole).
COLUMN_TYPE_SCHEMA = {
    "type": "string",
    "description": ACCEPTED.removeprefix("use "),
    "pattern": r"^\s*("
    + "|".join(_case_blind(t) for t in LOGICAL_TYPES)
    + "|"
    + _case_blind("decimal")
    + r"\(\d{1,2},\s*\d{1,2}\)|"
    + _case_blind("struct")
    + r"\(.+\))(\[\])*\s*$",
    "examples": [*LOGICAL_TYPES, "decimal(12,2)", "string[]", "struct(name string, purpose string)[]"],
}
