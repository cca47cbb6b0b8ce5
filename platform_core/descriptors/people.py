"""People, their groups and attributes: who reads the serving database, declared as data.

`people.yaml`, beside workspace.yaml, is reviewed like any descriptor and holds no credential:

    groups:
      - {name: payroll, description: Pays employees their overtime., owner: hr-data}
    people:
      - {login: paula.martin, name: Paula Martin, groups: [payroll]}
      - {login: maria.lopez, name: María López, groups: [managers], attributes: {employee_id: E00012}}

A group is what a product's `consumers` names (`managers`, `payroll`, ...) and what a port's
grants (`{group: payroll, purpose: ..., personal: true}`) and row filters name. A person logs in
to the serving database as `login`, with a password only `mesh access` ever shows, once; their
attributes are what row filters compare with (`equals: employee_id`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationError, WithJsonSchema

from platform_core.descriptors.files import display_path, read_yaml
from platform_core.descriptors.types import Email, Identifier, Spec, Team, Text
from platform_core.errors import ProblemCollector

PEOPLE_FILE = "people.yaml"
_LOGIN = re.compile(r"^[a-z][a-z0-9_.]{1,40}$")
# Role names PostgreSQL or the platform keep for themselves.
RESERVED_LOGINS = ("postgres", "public", "none", "current_user", "session_user", "mesh_admin")


def _login(value: str) -> str:
    if not _LOGIN.match(value) or value.startswith(("pg_", "mesh_")) or value in RESERVED_LOGINS:
        raise ValueError(
            f"bad login {value!r}: lowercase letters, digits, '_' and '.', 2 to 41 characters, "
            "starting with a letter, not pg_*, mesh_* nor a name PostgreSQL keeps"
        )
    return value


Login = Annotated[
    str,
    AfterValidator(_login),
    WithJsonSchema({"type": "string", "pattern": _LOGIN.pattern, "description": "the person's login"}),
]


class Group(Spec):
    """A group of people that products name as consumers, and that grants and row filters name."""

    name: Identifier
    description: Text
    owner: Team  # the team that decides who belongs to it


class Person(Spec):
    login: Login
    name: Text
    email: Email | None = None
    groups: tuple[Identifier, ...] = ()
    # what row filters compare with; a list where one person has several (a manager of two teams)
    attributes: dict[Identifier, str | tuple[str, ...]] = Field(default_factory=dict)

    def values(self, attribute: str) -> tuple[str, ...]:
        value = self.attributes.get(attribute)
        return () if value is None else (value,) if isinstance(value, str) else value


class People(Spec):
    groups: tuple[Group, ...] = ()
    people: tuple[Person, ...] = ()

    @property
    def group_names(self) -> frozenset[str]:
        return frozenset(group.name for group in self.groups)

    def person(self, login: str) -> Person | None:
        return next((p for p in self.people if p.login == login), None)

    def members(self, group: str) -> tuple[Person, ...]:
        return tuple(p for p in self.people if group in p.groups)


def load_people(path: Path) -> People:
    """The people of `path` (no file: nobody), or PlatformError listing every problem."""
    if not path.exists():
        return People()
    problems = ProblemCollector()
    where = display_path(path)
    data = read_yaml(path, problems)
    people = None
    if data is not None:
        try:
            people = People.model_validate(data)
        except ValidationError as error:
            from platform_core.descriptors.loader import validation_problems

            problems.extend(validation_problems(where, error))
    if people is not None:
        _unique(problems, where, "groups", [g.name for g in people.groups])
        _unique(problems, where, "people", [p.login for p in people.people], key="login")
        for i, person in enumerate(people.people):
            for j, group in enumerate(person.groups):
                if group not in people.group_names:
                    problems.add(
                        where,
                        f"people[{i}].groups[{j}]",
                        f"unknown group {group!r}; groups: {', '.join(sorted(people.group_names)) or 'none'}",
                    )
    problems.raise_if_any(f"{path.name} cannot be loaded")
    assert people is not None
    return people


def _unique(problems: ProblemCollector, where: str, field: str, names: list[str], key: str = "name") -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            problems.add(where, f"{field}[{i}].{key}", f"duplicate {key} {name!r}")
        seen.add(name)


__all__ = ["PEOPLE_FILE", "Group", "People", "Person", "load_people"]
