"""A contract's column types and the DuckDB types that store and satisfy them."""

from __future__ import annotations

import re

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
CAST_TYPES = {"string": "VARCHAR", "integer": "BIGINT", "double": "DOUBLE", "boolean": "BOOLEAN",
              "date": "DATE", "timestamp": "TIMESTAMP", "decimal": "DECIMAL(18,2)"}


def column_type(value: str) -> str:
    """A declared type, normalized (`Decimal(10, 2)` -> `decimal(10,2)`); ValueError when unknown."""
    text = value.strip().lower()
    if text in LOGICAL_TYPES:
        return text
    match = _DECIMAL.match(text)
    if match and 0 < int(match[1]) <= 38 and int(match[2]) <= int(match[1]):
        return f"decimal({int(match[1])},{int(match[2])})"
    raise ValueError(f"unknown type {value!r}: use one of {', '.join(LOGICAL_TYPES)} or decimal(p,s)")


def duckdb_type(logical: str) -> str:
    """The DuckDB type a contract's logical column type is stored as."""
    return CAST_TYPES.get(logical) or logical.upper()


def type_matches(logical: str, duckdb_type: str) -> bool:
    """Whether a produced DuckDB type satisfies a declared logical type."""
    if logical.startswith("decimal"):
        return duckdb_type.startswith("DECIMAL") and (logical == "decimal" or duckdb_type == logical.upper())
    return duckdb_type in DUCKDB_TYPES[logical]
