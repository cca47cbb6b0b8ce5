"""Loops in dependency graphs, found the same way wherever the platform looks for one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def find_cycle(needs: Mapping[str, Iterable[str]]) -> list[str]:
    """A loop (`[a, b, a]`: a needs b, b needs a), or [] when there is none; nodes in sorted order."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = "open"
        for upstream in needs.get(node, ()):
            if state.get(upstream) == "open":
                return [*path[path.index(upstream) :], upstream] if upstream in path else [node, upstream]
            if upstream not in state and (loop := visit(upstream, [*path, upstream])):
                return loop
        state[node] = "done"
        return []

    for start in sorted(needs):
        if start not in state and (loop := visit(start, [start])):
            return loop
    return []
