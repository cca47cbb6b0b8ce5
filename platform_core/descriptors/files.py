"""Reading a domain team's files: descriptors (strict YAML), SQL and Python, never trusting them.

Whatever a file holds, reading it yields text or data, or a problem in words that names the
file (and the line where one is known): never another exception. Files have a size limit,
YAML a limit on how large its aliases may expand and how deep it may nest.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from platform_core.errors import ProblemCollector

MAX_FILE_BYTES = 1_000_000  # a descriptor, SQL file or transform module beyond this is a mistake
MAX_YAML_NODES = 200_000  # values a descriptor may hold once its aliases are expanded
MAX_YAML_DEPTH = 64


class FileProblem(Exception):
    """A file that cannot be used, and why, in words."""


def display_path(path: Path) -> str:
    """Paths in messages start at `domains/`, wherever the project is checked out."""
    parts = path.resolve().parts
    if "domains" in parts:
        index = len(parts) - 1 - parts[::-1].index("domains")
        return "/".join(parts[index:])
    return str(path)


def read_text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """A file as UTF-8 text (a leading byte-order mark dropped), or FileProblem."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise FileProblem("not a regular file")
        if size > limit:
            raise FileProblem(f"{size:,} bytes: larger than the {limit:,} a team's file may be")
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileProblem("file not found") from None
    except OSError as error:
        raise FileProblem(f"cannot be read: {error.strerror or error}") from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise FileProblem(
            f"not UTF-8 text: byte 0x{data[error.start]:02x} at line {line}, column {column}; save the file as UTF-8"
        ) from None


# libyaml's parser when present: 10x faster. Both loaders build values with SafeConstructor, all the
# class below uses of them; the type checker is shown the pure-Python one, as a base it can see.
if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_SafeLoader):
    """Safe YAML loader that refuses duplicate keys and keys that are not plain values."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`, expanded by construct_mapping
            continue
        if node.flow_style and _bare_word(key_node, value_node):
            # `{description: a, b}` reads as description "a" and a key "b": the comma cut the text
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{key_node.value!r} has no value: in a one-line {{...}} mapping a comma ends the value "
                'before it; put that value in quotes (description: "a, b")',
                key_node.start_mark,
            )
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain value, not a list or a mapping", key_node.start_mark
            )
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str):  # `on:`, `yes:` or `1:` read as a boolean or a number
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"a key must be text, not {key!r}: put it in quotes ('{key_node.value}')",
                key_node.start_mark,
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


def _bare_word(key: yaml.Node, value: yaml.Node) -> bool:
    """A key written without `:` and value (`b` in `{a: 1, b}`): YAML gives it an empty null."""
    return (
        isinstance(key, yaml.ScalarNode)
        and not key.style
        and isinstance(value, yaml.ScalarNode)
        and value.tag == "tag:yaml.org,2002:null"
        and value.value == ""
        and value.start_mark.index == key.end_mark.index
    )  # no `:` between the key and its value


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def read_yaml(path: Path, problems: ProblemCollector) -> dict | None:
    """A descriptor as a mapping, or None with its problem added (file, line and column where known)."""
    where = display_path(path)
    try:
        text = read_text(path)
        data = yaml.load(text, Loader=_StrictLoader)
        _check_size(data, text)
    except FileProblem as problem:
        problems.add(where, "", str(problem))
        return None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        position = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(error, "problem", None) or str(error)
        kind = "error" if isinstance(error, yaml.constructor.ConstructorError) else "syntax error"
        problems.add(where, "", f"YAML {kind}{position}: {reason}")
        return None
    except RecursionError:
        problems.add(where, "", f"nested more than {MAX_YAML_DEPTH} levels deep")
        return None
    except (ValueError, OverflowError) as error:  # a value YAML reads but Python cannot hold: 2024-13-45, 10**5000
        problems.add(where, "", f"YAML error: a value cannot be read: {str(error)[:200]}")
        return None
    if not isinstance(data, dict):
        problems.add(where, "", "must be a YAML mapping of fields")
        return None
    return data


def _check_size(data: object, text: str) -> None:
    """Refuse YAML whose aliases expand beyond reason (a 'billion laughs'), or that nests too deep:
    validating it would take the loader's memory and time, and no descriptor needs it."""
    budget = [MAX_YAML_NODES]

    def walk(value: object, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise FileProblem(_expansion_problem(text))
        if depth > MAX_YAML_DEPTH:
            raise FileProblem(f"nested more than {MAX_YAML_DEPTH} levels deep")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            walk(child, depth + 1)

    walk(data, 0)


def _expansion_problem(text: str) -> str:
    """Where the document's expansion passes the limit: the line of the alias that does, found
    from the parser's events (values are counted, never built)."""
    sizes: dict[str, int] = {}  # anchor -> values it expands to
    open_: list[tuple[str | None, int]] = []  # collections being read: their anchor, values so far
    total = 0  # values of the expanded document so far
    for event in yaml.parse(text, Loader=_SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            total += 1
            open_.append((event.anchor, 1))
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size = open_.pop()  # its values were counted as they came
        elif isinstance(event, yaml.AliasEvent):
            anchor, size = None, sizes.get(event.anchor or "", 1)
            total += size
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
            total += 1
        else:
            continue
        if anchor:
            sizes[anchor] = size
        if open_:
            open_[-1] = (open_[-1][0], open_[-1][1] + size)
        if total > MAX_YAML_NODES and isinstance(event, yaml.AliasEvent):
            line = f"line {event.start_mark.line + 1}: " if event.start_mark else ""
            return (
                f"{line}the alias *{event.anchor} takes the document past "
                f"{MAX_YAML_NODES:,} values once aliases are expanded (aliases repeated within aliases?)"
            )
    return f"expands to more than {MAX_YAML_NODES:,} values (aliases repeated within aliases?)"


# A file changed less than this long ago is read again on every call: two writes within one
# tick of the file system's clock can leave size and modification time unchanged (git's
# "racily clean" entries).
RACY_SECONDS = 2.0

FileState = tuple[int, int, int]  # size, modification time (ns), inode


def file_state(path: str | Path) -> FileState | None:
    """What tells a regular file's versions apart without reading it; None for anything else."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_size, status.st_mtime_ns, status.st_ino) if stat.S_ISREG(status.st_mode) else None


def settled(state: FileState | None) -> bool:
    """Not racily new: a write within RACY_SECONDS could still change the file without changing its state."""
    return state is None or time.time_ns() - state[1] > RACY_SECONDS * 1e9


def read_own(path: Path) -> bytes | None:
    """A file's bytes, when it is there and only this user could have written it; None otherwise.
    What the platform keeps for itself (loaded domains, which unpickling runs as code; published
    contracts, which governance trusts) is never read from a file others may write."""
    try:
        with path.open("rb") as handle:
            status = os.fstat(handle.fileno())
            if status.st_uid != os.getuid() or status.st_mode & 0o022:
                return None
            return handle.read()
    except OSError:
        return None


def write_own(path: Path, data: bytes) -> None:
    """`data` written whole to `path` (mode 600) by a rename, so that processes reading or writing it
    at once never see half of it. Raises OSError; a cache's caller treats that as costing time."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
