"""One error type for everything a domain team can get wrong, listing every problem at once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """A single problem in a descriptor: the file, the field path inside it, and what is wrong."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


class PlatformError(Exception):
    """Raised when descriptors or domains cannot be loaded; its text is meant for the domain team."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...], headline: str | None = None) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        self.headline = headline or f"{count} problem{'s' if count != 1 else ''} in data product descriptors"
        super().__init__("\n".join([self.headline + ":", *(f"  {p}" for p in self.problems)]))


class ProblemCollector:
    """Gathers problems from several validation passes so a user sees all of them in one run."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, file: str, field: str, message: str) -> None:
        self.problems.append(Problem(file, field, message))

    def extend(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems.extend(problems)

    def raise_if_any(self, headline: str | None = None) -> None:
        if self.problems:
            raise PlatformError(self.problems, headline)
