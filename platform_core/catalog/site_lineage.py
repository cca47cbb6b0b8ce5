"""A product's lineage as an inline SVG picture: upstream products -> the product -> downstream.

Drawn in Python with a fixed three-column layout, so the docs site needs no graphviz binary,
no JavaScript and no network, and the same mesh always gives the same picture. Every text is
escaped here, since the SVG is inserted into the page as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

BOX_WIDTH, BOX_HEIGHT, GAP = 280, 62, 16
COLUMN_X = (10, 380, 750)
WIDTH = COLUMN_X[-1] + BOX_WIDTH + 10
TOP = 34  # room for the column headings
TITLE_CHARS, LINE_CHARS = 32, 36  # what fits in a box at the stylesheet's font sizes


@dataclass(frozen=True)
class Node:
    """One product in the picture; `note` says which ports link it to the centre product."""

    address: str
    title: str
    href: str | None
    note: str = ""


def lineage_svg(center: Node, upstream: Sequence[Node], downstream: Sequence[Node]) -> Markup:
    rows = max(len(upstream), len(downstream), 1)
    height = TOP + rows * (BOX_HEIGHT + GAP) + 10
    middle = TOP + rows * (BOX_HEIGHT + GAP) / 2 - GAP / 2
    centre_y = middle - BOX_HEIGHT / 2
    up_ys, down_ys = _stack(len(upstream), middle), _stack(len(downstream), middle)
    parts = [
        f'<svg class="lineage" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="{WIDTH}" height="{height:.0f}" aria-labelledby="lineage-title lineage-desc">',
        f'<title id="lineage-title">Lineage of {escape(center.title)}</title>',
        f'<desc id="lineage-desc">{escape(_description(center, upstream, downstream))}</desc>',
        '<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>',
        *(_heading(x, text) for x, text in zip(COLUMN_X, ("Reads from", "This product", "Read by"), strict=True)),
        *(_edge(COLUMN_X[0] + BOX_WIDTH, y + BOX_HEIGHT / 2, COLUMN_X[1], middle) for y in up_ys),
        *(_edge(COLUMN_X[1] + BOX_WIDTH, middle, COLUMN_X[2], y + BOX_HEIGHT / 2) for y in down_ys),
        *(_box(node, COLUMN_X[0], y) for node, y in zip(upstream, up_ys, strict=True)),
        _box(center, COLUMN_X[1], centre_y, current=True),
        *(_box(node, COLUMN_X[2], y) for node, y in zip(downstream, down_ys, strict=True)),
    ]
    if not upstream:
        parts.append(_empty(COLUMN_X[0], middle, "no other product: raw sources only"))
    if not downstream:
        parts.append(_empty(COLUMN_X[2], middle, "no product reads its ports yet"))
    return Markup("\n".join([*parts, "</svg>"]))


def _stack(count: int, middle: float) -> list[float]:
    """Top edges of `count` boxes centred on `middle`."""
    first = middle - (count * (BOX_HEIGHT + GAP) - GAP) / 2
    return [first + i * (BOX_HEIGHT + GAP) for i in range(count)]


def _description(center: Node, upstream: Sequence[Node], downstream: Sequence[Node]) -> str:
    reads = ", ".join(n.address for n in upstream) or "no other product"
    read_by = ", ".join(n.address for n in downstream) or "no other product"
    return f"{center.address} reads from {reads}; it is read by {read_by}."


def _heading(x: int, text: str) -> str:
    return f'<text class="heading" x="{x + BOX_WIDTH / 2:.0f}" y="18" text-anchor="middle">{escape(text)}</text>'


def _edge(x1: float, y1: float, x2: float, y2: float) -> str:
    bend = (x2 - x1) / 2
    return (
        f'<path class="edge" d="M {x1:.0f} {y1:.1f} C {x1 + bend:.0f} {y1:.1f}, {x2 - bend:.0f} {y2:.1f}, '
        f'{x2:.0f} {y2:.1f}" marker-end="url(#lineage-arrow)"/>'
    )


def _box(node: Node, x: int, y: float, current: bool = False) -> str:
    # the full texts as a tooltip, since the box shows them clipped
    tooltip = " ".join(filter(None, [node.title, f"({node.address})", node.note]))
    body = "".join(
        [
            f"<title>{escape(tooltip)}</title>",
            f'<rect x="{x}" y="{y:.1f}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="6"/>',
            _line(x, y + 20, "name", _clip(node.title, TITLE_CHARS)),
            _line(x, y + 37, "address", _clip(node.address, LINE_CHARS)),
            _line(x, y + 53, "note", _clip(node.note, LINE_CHARS)) if node.note else "",
        ]
    )
    kind = "node current" if current else "node"
    if node.href is None:
        return f'<g class="{kind}">{body}</g>'
    return f'<a class="{kind}" href="{escape(node.href)}">{body}</a>'


def _line(x: int, y: float, kind: str, text: str) -> str:
    return f'<text class="{kind}" x="{x + 10}" y="{y:.1f}">{escape(text)}</text>'


def _empty(x: int, middle: float, text: str) -> str:
    return (
        f'<text class="empty" x="{x + BOX_WIDTH / 2:.0f}" y="{middle:.1f}" text-anchor="middle">{escape(text)}</text>'
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
