"""Reading descriptor YAML strictly, and naming descriptor files in messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from platform_core.errors import ProblemCollector


def display_path(path: Path) -> str:
    """Paths in messages start at `domains/`, wherever the project is checked out."""
    parts = path.resolve().parts
    if "domains" in parts:
        index = len(parts) - 1 - parts[::-1].index("domains")
        return "/".join(parts[index:])
    return str(path)


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when present: 10x faster
    """Safe YAML loader that refuses duplicate keys instead of keeping the last one silently."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def read_yaml(path: Path, problems: ProblemCollector) -> dict | None:
    where = display_path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except FileNotFoundError:
        problems.add(where, "", "file not found")
        return None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        position = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(error, "problem", None) or str(error)
        problems.add(where, "", f"YAML syntax error{position}: {reason}")
        return None
    if not isinstance(data, dict):
        problems.add(where, "", "must be a YAML mapping of fields")
        return None
    return data
