"""Helpers for the deterministic sample-data generators that domains ship with their products.

Generators must produce byte-identical files on every run and machine: fixed seeds, no
clock, `\\n` line endings, stable order. These helpers hold those rules in one place.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path


def money(cents: int) -> str:
    """An amount in cents as text with two decimals, without float rounding."""
    return f"{cents // 100}.{cents % 100:02d}"


def days(start: date, end: date) -> Iterator[date]:
    """Every day from start to end, both included."""
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> int:
    """Write a CSV with `\\n` line endings; return the number of data rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return len(rows)


def run_generator(generate: Callable[[Path], dict[str, int]], data_dir: Path, argv: list[str] | None = None) -> None:
    """The command line of a domain's generator: `python -m domains.<d>.sample_data [OUT_DIR]`."""
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else data_dir
    for name, rows in generate(out_dir).items():
        print(f"{out_dir / name}: {rows} rows")
