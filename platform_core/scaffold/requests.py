"""`mesh request-access`: the entries a producer adds for a consumer, written into its descriptor.

The consumer's team runs it; the producer's descriptor changes in the working tree, comments and
layout kept, and its owner reviews the change like any other (a pull request). Nothing is granted
until that change is merged: governance reads the producer's descriptor, not the request.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from platform_core.catalog.mesh import load_mesh
from platform_core.descriptors.addresses import AddressError
from platform_core.descriptors.files import read_yaml
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.errors import ProblemCollector
from platform_core.governance.requests import AccessRequest, access_request, flow_mapping
from platform_core.scaffold.plan import ScaffoldError


def request_access(index: MeshIndex, address: str, consumer: str, purpose: str | None) -> AccessRequest | None:
    """Write into the producer's descriptor what it must add for `consumer` to read `address`; the
    request written, or None when the producer already lists and grants it."""
    try:
        resolved = index.resolve(address)
    except AddressError as error:
        raise ScaffoldError(f"refused: {error}. Nothing was written.") from None
    entry, reader = index.product(resolved.producer.product), index.product(consumer)
    if reader is None:
        raise ScaffoldError(f"refused: there is no product {consumer!r} in the mesh to read it. Nothing was written.")
    if entry is None or entry.domain == reader.domain:
        raise ScaffoldError(f"refused: {consumer} and {address} are of the same domain; it reads it freely.")
    purpose = purpose or _declared_purpose(reader.file, address)
    request = access_request(resolved, entry.file, address, consumer, purpose)
    if request is None:
        return None
    if request.purpose is None:
        raise ScaffoldError("refused: say why it is read (--purpose); grants name a purpose. Nothing was written.")
    before = entry.file.read_text(encoding="utf-8")
    changed = _add(request, before)
    temporary = entry.file.with_name(f".{entry.file.name}.request")
    temporary.write_text(changed, encoding="utf-8")
    os.replace(temporary, entry.file)
    failed = dict(load_mesh(index).failed)
    if entry.domain in failed:  # never leave the producer's descriptor broken
        entry.file.write_text(before, encoding="utf-8")
        raise ScaffoldError(f"refused: the change would not load ({failed[entry.domain]}). Nothing was written.")
    return request


def _declared_purpose(descriptor: Path, address: str) -> str | None:
    """The purpose the consumer's descriptor gives its input reading `address`, if it reads it."""
    body = _body(read_yaml(descriptor, ProblemCollector()) or {})
    inputs = body.get("inputs") if isinstance(body, dict) else None
    for source in inputs if isinstance(inputs, list) else []:
        if isinstance(source, dict) and source.get("address") == address and isinstance(source.get("purpose"), str):
            return str(source["purpose"])
    return None


def _add(request: AccessRequest, text: str) -> str:
    """The descriptor's text with the request's entries appended, every other line as it was."""
    for place, entry in _places(request):
        data = _round_trip().load(text)
        text = _appended(text, place(data), *entry)
    return text


def _body(data: Any) -> Any:
    """The descriptor in a file's mapping: a component's defs.yaml holds it under `attributes`."""
    return data["attributes"] if "attributes" in data and "type" in data else data


def _places(request: AccessRequest) -> list[tuple[Any, tuple[str, dict[str, str]]]]:
    def port(data: Any) -> Any:
        ports = _body(data)["previous"]["ports"] if request.previous else _body(data)["output_ports"]
        (found,) = [p for p in ports if p.get("name") == request.port]
        return found

    places = []
    if request.list_consumer:
        places.append((_body, ("consumers", request.consumer_entry)))
    if request.grant:
        places.append((port, ("grants", request.grant_entry)))
    return places


def _appended(text: str, mapping: Any, key: str, entry: dict[str, str]) -> str:
    """`entry` appended, as a one-line mapping, to the block list under `key` of `mapping` (the list
    made when missing): lines inserted, nothing else rewritten. Flow-style lists are refused."""
    lines = text.splitlines(keepends=True)
    item = flow_mapping(entry)
    sequence = mapping.get(key)
    if sequence is not None and len(sequence):
        if sequence.fa.flow_style():
            raise ScaffoldError(f"refused: write {key} as a block list (one `- ` line per entry) first.")
        line, column = sequence.lc.item(len(sequence) - 1)
        dash = lines[line].rfind("-", 0, column)
        at = _end_of(lines, line, dash)
        lines.insert(at, f"{' ' * dash}- {item}\n")
    else:
        if sequence is not None or not len(mapping):
            raise ScaffoldError(f"refused: {key} is there but empty; write its first entry by hand.")
        last = list(mapping.keys())[-1]
        line, column = mapping.lc.key(last)
        at = _end_of(lines, line, column)
        lines.insert(at, f"{' ' * column}{key}:\n{' ' * column}  - {item}\n")
    if at and not lines[at - 1].endswith("\n"):  # the file's last line had no line end
        lines[at - 1] += "\n"
    return "".join(lines)


def _end_of(lines: list[str], line: int, column: int) -> int:
    """Where the node starting on `line` at `column` ends: the next line that is not blank, not a
    comment and indented no deeper than it (trailing blank and comment lines stay after)."""
    end = line + 1
    for index in range(line + 1, len(lines)):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(lines[index]) - len(lines[index].lstrip(" ")) <= column:
            break
        end = index + 1
    return end


def _round_trip() -> YAML:
    return YAML()
