"""Violations as people and scripts read them: a table naming file and field, or JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def table(rows: Sequence[Mapping[str, object]], columns: Sequence[str], widths: Mapping[str, int] | None = None) -> str:
    """A plain-text table: a header, then one line per row; long cells are cut with `…`."""
    widths = dict(widths or {})
    cells = [[_cell(row.get(c), widths.get(c)) for c in columns] for row in rows]
    sizes = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(size) for c, size in zip(columns, sizes, strict=True)).rstrip()]
    lines += ["  ".join(value.ljust(size) for value, size in zip(line, sizes, strict=True)).rstrip() for line in cells]
    return "\n".join(lines)


def _cell(value: object, width: int | None) -> str:
    text = "" if value is None else ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


def counts(violations: Iterable[Mapping[str, object]]) -> tuple[int, int]:
    found = list(violations)
    return (sum(v["severity"] == "error" for v in found), sum(v["severity"] == "warn" for v in found))
