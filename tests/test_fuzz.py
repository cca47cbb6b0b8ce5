"""Fuzzing the descriptor loader: whatever a descriptor holds, it loads or fails with the
platform's error, each problem naming its file. Never another exception.

Three kinds of input, each derived from the valid shop product (tests/factories.py):
the product with values swapped for random ones, keys removed or added; random YAML-ish
text; random bytes. Examples are derived from a fixed seed, so every run tries the same.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platform_core.descriptors.loader import load_domain
from platform_core.errors import PlatformError
from tests.factories import product_yaml, write_domain

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "1.0.0",
            "sql/daily_sales.sql",
            "orders",
            "../x",
            "day",
            "decimal(10,2)",
            "0 6 * * *",
            "26h",
            "string",
            "file",
            "port",
        ]
    )
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
TOKENS = st.lists(
    st.sampled_from(
        [
            "name",
            ":",
            " ",
            "\n",
            "  ",
            "- ",
            "[",
            "]",
            "{",
            "}",
            ",",
            "&a",
            "*a",
            "!!str",
            "? ",
            "'",
            '"',
            "#",
            "output_ports",
            "columns",
            "sales",
            "1",
            "null",
            "\t",
            "|",
            ">-",
            "---",
            "...",
            "%YAML 1.1",
            "\\",
            "\u00e9",
            "\x00",
        ]
    ),
    max_size=60,
)


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every path into a nested descriptor, the root included."""
    found = [prefix]
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found += _paths(child, (*prefix, key))
    return found


@st.composite
def mutated_products(draw: st.DrawFn) -> dict:
    data = product_yaml()
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        if not path:
            continue
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent[path[-1]], dict):
            parent[path[-1]][draw(st.text(min_size=1, max_size=8))] = draw(VALUES)
    return data


def _outcome(content: bytes) -> None:
    """Load the shop domain with `content` as its product.yaml: a domain, or the platform's error."""
    with tempfile.TemporaryDirectory() as scratch:
        domain_dir = write_domain(Path(scratch))
        (domain_dir / "products" / "sales" / "product.yaml").write_bytes(content)
        try:
            load_domain(domain_dir)
        except PlatformError as error:
            assert error.problems
            assert all(p.file.startswith("domains/shop/") and p.message for p in error.problems), error
            # the loader's last line of defence turns any other exception into its error; it must never be needed
            assert not any(p.message.startswith("cannot be loaded (") for p in error.problems), error


@FUZZ
@given(mutated_products())
def test_mutated_descriptors_load_or_fail_with_the_platforms_error(data: dict) -> None:
    _outcome(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode("utf-8"))


@FUZZ
@given(TOKENS)
def test_yaml_like_text_loads_or_fails_with_the_platforms_error(tokens: list[str]) -> None:
    _outcome("".join(tokens).encode("utf-8"))


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_fail_with_the_platforms_error(content: bytes) -> None:
    _outcome(content)
