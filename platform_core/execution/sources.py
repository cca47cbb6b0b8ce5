"""Raw source files, read as ingested, and what is wrong with one said in words.

A CSV is read with its dialect fixed (comma-separated, values quoted with double quotes and
a quote inside doubled, a header line first, no comment lines; lines end with LF, CRLF or
CR) and its columns taken from that header, never guessed: DuckDB's dialect sniffer, left to guess, reads a
file with one short row as a single column and a file with one long row as empty. Read
strictly, a broken file fails on its first bad line, and the error names the file, the
line and the reason; it never quotes the line, which may hold personal data. A value that a
later step cannot convert (text where a number or a time goes) is traced back the same way,
through the `source_file` and `source_row` every bronze row carries, to its file, row and column.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from pathlib import Path

import duckdb

from platform_core.descriptors.files import display_path
from platform_core.descriptors.names import literal, quote
from platform_core.errors import PlatformError, Problem

MAX_HEADER_BYTES = 1_000_000

# DuckDB's wording of a CSV error, and the reason in ours.
_REASONS = (
    (
        re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)"),
        lambda m: f"has {m[2]} fields where the header has {m[1]} (a truncated, shifted or merged row?)",
    ),
    (re.compile(r"unterminated quote"), lambda m: "has a quoted value that is never closed"),
    (
        re.compile(r"Maximum line size of (\d+) bytes exceeded\. Actual Size:(\d+)"),
        lambda m: f"is {int(m[2]):,} bytes long, more than the {int(m[1]):,} a line may be",
    ),
    (re.compile(r"not utf-8 encoded", re.IGNORECASE), lambda m: "is not UTF-8 text; save the file as UTF-8"),
)


def source_error(path: Path, message: str) -> PlatformError:
    return PlatformError([Problem(display_path(path), "", message)], f"cannot read source file {path.name}")


def read_input(con: duckdb.DuckDBPyConnection, path: Path, file_format: str) -> duckdb.DuckDBPyRelation:
    """A raw file as ingested, plus the lineage columns every bronze row carries.

    CSV columns stay text, so bronze never loses a malformed value; `source_file`,
    `source_row` (1-based data row, in file order) and `ingested_at` (UTC) let any later
    row be traced back to its line of the file.
    """
    if not path.is_file():
        raise source_error(path, "file not found")
    # written as SQL: options passed from Python go through DuckDB's value conversion, which
    # imports pandas (a quarter of a second of the run)
    if file_format == "csv":
        columns = ", ".join(f"{literal(name)}: 'VARCHAR'" for name in csv_header(path))
        relation = con.sql(
            f"SELECT * FROM read_csv({literal(str(path))}, header = true, columns = {{{columns}}}, "
            "auto_detect = false, delim = ',', quote = '\"', escape = '\"', strict_mode = true, filename = true)"
        )
    else:
        relation = con.sql(f"SELECT * FROM read_parquet({literal(str(path))}, filename = true)")
    return relation.project(
        "* EXCLUDE (filename), parse_filename(filename) AS source_file, "
        "row_number() OVER () AS source_row, current_timestamp::TIMESTAMP AS ingested_at"
    )


def csv_header(path: Path) -> list[str]:
    """The column names on a CSV's first line (ended by LF, CRLF or a lone CR)."""
    with path.open("rb") as stream:
        start = stream.read(MAX_HEADER_BYTES + 1)
    first = re.split(rb"\r\n|\r|\n", start, maxsplit=1)[0]
    if not first.strip():
        raise source_error(path, "empty: expected a header line naming the columns")
    if len(first) > MAX_HEADER_BYTES:
        raise source_error(path, f"line 1 (the header) is longer than {MAX_HEADER_BYTES:,} bytes")
    try:
        names = [name.strip() for name in next(csv.reader([first.decode("utf-8-sig")]), [])]
    except UnicodeDecodeError as error:
        raise source_error(
            path, f"line 1 (the header) is not UTF-8 text (byte 0x{first[error.start]:02x}); save the file as UTF-8"
        ) from None
    except csv.Error as error:
        raise source_error(path, f"line 1 (the header) cannot be read as CSV: {error}") from None
    if not all(names):
        trailing = " (a comma at the end of the line?)" if names and not names[-1] and all(names[:-1]) else ""
        raise source_error(path, f"line 1 (the header) has an empty column name{trailing}")
    lower = [name.lower() for name in names]  # DuckDB tells names apart whatever their case, as SQL does
    repeated = sorted({name for name in names if lower.count(name.lower()) > 1})
    if repeated:
        raise source_error(
            path,
            f"line 1 (the header) names {', '.join(repeated)} more than once (names are the same whatever their case)",
        )
    return names


def explain(error: duckdb.Error) -> PlatformError | None:
    """DuckDB's CSV error as the platform's: the file, the line and the reason in words."""
    text = str(error)
    found = re.search(r"CSV Error on Line: (\d+)", text)
    file = re.search(r"^\s*file = (.+)$", text, re.MULTILINE)
    if not found or not file:
        return None
    reason = next(
        (words(match) for pattern, words in _REASONS if (match := pattern.search(text))),
        "cannot be read as CSV (comma-separated, double quotes, a header line)",
    )
    return source_error(Path(file[1].strip()), f"line {found[1]} {reason}")


# DuckDB's wording of a value a cast cannot convert; the value is group 1.
_CONVERSIONS = (
    re.compile(r'Could not convert string "(.*?)" to (\S+)'),
    re.compile(r"Could not convert string \'(.*?)\' to (\S+)"),
    re.compile(r'invalid (timestamp|date|time) field format: "(.*?)"'),
)


def explain_conversion(
    con: duckdb.DuckDBPyConnection, tables: list[str], files: Mapping[str, Path], error: duckdb.Error
) -> PlatformError | None:
    """A value the step could not convert, found in the tables it read (bound under their plain
    names) that carry `source_file` and `source_row`: the file (by its name in `files`), row and
    column it came from."""
    text = str(error)
    for pattern in _CONVERSIONS:
        if match := pattern.search(text):
            value, kind = (match[2], match[1]) if match.re is _CONVERSIONS[2] else (match[1], match[2])
            break
    else:
        return None
    for table in tables:
        columns = con.execute(f"DESCRIBE SELECT * FROM {quote(table)}").fetchall()
        names = {column[0] for column in columns}
        if not {"source_file", "source_row"} <= names:
            continue
        for name, type_, *_ in columns:
            if type_ != "VARCHAR" or name in ("source_file", "source_row"):
                continue
            found = con.execute(
                f"SELECT source_file, source_row FROM {quote(table)} WHERE trim({quote(name)}) = trim($value) "
                f"OR strpos({quote(name)}, $value) > 0 ORDER BY trim({quote(name)}) = trim($value) DESC, source_row "
                "LIMIT 1",
                {"value": value},
            ).fetchall()
            if found:
                file, row = found[0]
                return source_error(
                    files.get(str(file), Path(str(file))),
                    f"row {row} after the header, column {name}: the value cannot be read as {kind.lower()}",
                )
    return None
