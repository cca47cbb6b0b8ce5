"""Every domain's committed sample data is exactly what its generator writes, on any machine."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tests.conftest import PROJECT

GENERATORS = sorted(p.parent.name for p in (PROJECT / "domains").glob("*/sample_data.py"))


@pytest.mark.parametrize("domain", GENERATORS)
def test_generator_reproduces_the_committed_files(domain: str, tmp_path: Path) -> None:
    generator = importlib.import_module(f"domains.{domain}.sample_data")
    written = generator.generate(tmp_path)
    committed = PROJECT / "domains" / domain / "data"
    assert set(written) == {p.name for p in committed.glob("*.csv")}
    for name, rows in written.items():
        assert (tmp_path / name).read_bytes() == (committed / name).read_bytes(), name
        assert rows == len((committed / name).read_text(encoding="utf-8").splitlines()) - 1
