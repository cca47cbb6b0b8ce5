"""`mesh access add` and `remove`: a person written into people.yaml, or taken out of it.

The file stays a reviewed descriptor: the change is one entry, every other line and comment kept
as it is, and what is written is validated as the file will be loaded before it replaces it.
"""

from __future__ import annotations

import os
import uuid
from io import StringIO
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from platform_core.descriptors.people import People, load_people
from platform_core.errors import PlatformError
from platform_core.scaffold.plan import ScaffoldError

HEADER = "# yaml-language-server: $schema=schemas/people.schema.json\n"


def add_person(
    path: Path,
    login: str,
    name: str,
    groups: list[str],
    email: str | None = None,
    attributes: dict[str, str] | None = None,
) -> People:
    """Append a person to people.yaml (refused for a login already there or an undeclared group)."""
    people = load_people(path)
    if people.person(login) is not None:
        raise ScaffoldError(f"refused: {login!r} is already in {path.name}. Nothing was written.")
    unknown = sorted(set(groups) - people.group_names)
    if unknown:
        raise ScaffoldError(
            f"refused: no group {', '.join(unknown)} in {path.name} (groups: "
            f"{', '.join(sorted(people.group_names)) or 'none'}); declare it there first. "
            "Nothing was written."
        )
    entry = CommentedMap(login=login, name=name)
    if email:
        entry["email"] = email
    entry["groups"] = CommentedSeq(groups)
    entry["groups"].fa.set_flow_style()
    if attributes:
        entry["attributes"] = CommentedMap(attributes)
        entry["attributes"].fa.set_flow_style()
    entry.fa.set_flow_style()
    return _rewrite(path, lambda listed: [*listed, entry])


def remove_person(path: Path, login: str) -> People:
    people = load_people(path)
    if people.person(login) is None:
        raise ScaffoldError(f"refused: there is no {login!r} in {path.name}. Nothing was written.")
    return _rewrite(path, lambda listed: [e for e in listed if not (isinstance(e, dict) and e.get("login") == login)])


def _rewrite(path: Path, change) -> People:  # noqa: ANN001 - list of entries -> list of entries
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER + "groups: []\npeople: []\n"
    data = yaml.load(text)
    listed = list(data.get("people") or [])
    data["people"] = CommentedSeq(change(listed))
    buffer = StringIO()
    yaml.dump(data, buffer)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        people = load_people(temporary)
    except PlatformError as error:
        temporary.unlink()
        raise ScaffoldError(
            f"refused: the change would make {path.name} invalid: {error}. Nothing was written."
        ) from None
    os.replace(temporary, path)
    return people
