"""The mesh as a static documentation site for business readers.

The Dagster UI is for the people who run the platform; the site is for everyone who wants to
find a product, learn what it is for, whom to ask, what each column means, what quality it
promises and whether it keeps it. It is plain files, readable from `file://` with no server
and no network: the stylesheet and script are local files, and the search index is a script
rather than JSON, because browsers refuse to fetch JSON from `file://`.

The output is a function of its inputs alone (everything is sorted, the build time is a
parameter), so it can be rebuilt on every catalog change. A build is written beside the
output folder and swapped in whole, so readers never see half a site, and pages of products
that no longer exist disappear with the old folder.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import jinja2
from markupsafe import Markup

from platform_core.catalog.health import ProductHealth
from platform_core.catalog.mesh import Mesh, dependency_rows, sla_text
from platform_core.catalog.metrics import documented
from platform_core.catalog.site_lineage import Node, lineage_svg
from platform_core.catalog.words import FRESHNESS_TEXT, STATE_TEXT, promises, schedule_text, timestamp_text
from platform_core.descriptors.spec import PortInput, Product
from platform_core.governance.readers import Reader, Usage
from platform_core.quality.expectations import expectation_description
from platform_core.storage.locks import exclusive_file_lock

TEMPLATES = Path(__file__).parent / "templates" / "site"
MARKER = ".mesh-site"  # marks a folder as a site this module built, and may therefore replace
ASSETS = {"assets/site.css": "site.css.j2", "assets/search.js": "search.js.j2"}
LOCK_WAIT_SECONDS = 120.0


class SiteError(Exception):
    """The output folder cannot take the site; nothing was written."""


def build_site(
    mesh: Mesh,
    out: Path,
    health: Mapping[str, ProductHealth] | None = None,
    *,
    generated_at: datetime | None = None,
    usage: Usage | None = None,
) -> Path:
    """Write the site into `out` (replacing the previous build whole) and return its index page.

    `health` maps product addresses (`hr.overtime`) to what the Dagster instance knows; without
    it, product pages say that no status is available. `usage` says who reads each port and
    column (platform_core.governance.readers); without it, pages list declared readers only.
    """
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    # one build at a time per folder: two swaps interleaved could leave neither site in place
    with exclusive_file_lock(out.parent / f".{out.name}.lock", LOCK_WAIT_SECONDS, "the docs site build"):
        _refuse_foreign(out)
        for leftover in out.parent.glob(f".{out.name}.tmp-*"):  # from a build that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        staging = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex}"
        try:
            _render_site(mesh, staging, health, generated_at or datetime.now(UTC), usage)
            _swap(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return out / "index.html"


def _refuse_foreign(out: Path) -> None:
    # a mistyped --out must never wipe someone's folder: replace only what this module built
    if out.exists() and not (out / MARKER).is_file() and (not out.is_dir() or any(out.iterdir())):
        raise SiteError(
            f"{out} exists and is not a site built by the platform ({MARKER} is missing): "
            "choose an empty or new folder. Nothing was written."
        )


def _swap(staging: Path, out: Path) -> None:
    if not out.exists():
        os.rename(staging, out)
        return
    # named like a staging folder, so that the next build cleans it up if this one is killed here
    old = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex}"
    # POSIX cannot exchange two folders in one step: between these renames `out` is briefly
    # absent (a reader gets "not found" for an instant), never half-written
    os.rename(out, old)
    os.rename(staging, out)
    shutil.rmtree(old, ignore_errors=True)


# --- rendering ------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(schedule_text=schedule_text, timestamp=timestamp_text)
    env.globals.update(
        STATE_TEXT=STATE_TEXT,
        FRESHNESS_TEXT=FRESHNESS_TEXT,
        sla_text=sla_text,
        promises=promises,
        expectation_description=expectation_description,
        reader_name=reader_name,
    )
    return env


def reader_name(reader: Reader) -> str:
    """A reader as the site names it: a product or a group; a person in no group stays unnamed (the
    site is for everyone, and who reads what is about a person; `mesh usage` names them to the owner)."""
    return "a person in no group" if reader.kind == "person" else reader.name


def _render_site(
    mesh: Mesh,
    folder: Path,
    health: Mapping[str, ProductHealth] | None,
    generated_at: datetime,
    usage: Usage | None = None,
) -> None:
    env = _environment()
    domains = sorted(mesh.domains, key=lambda d: d.name)
    graph = _Graph(mesh)
    products = {p.product_address: p for p in mesh.products}
    common = {
        "domains": domains,
        "generated_at": timestamp_text(generated_at),
        "health_given": health is not None,
        "health": dict(health or {}),
        "usage": usage,
    }
    pages = {
        "index.html": env.get_template("index.html.j2").render(
            root="", current=None, mesh=mesh, ports=sum(len(p.output_ports) for p in mesh.products), **common
        )
    }
    for domain in domains:
        pages[f"domains/{domain.name}.html"] = env.get_template("domain.html.j2").render(
            root="../", current=domain.name, domain=domain, products=_sorted(domain.products), **common
        )
        for product in _sorted(domain.products):
            pages[f"products/{product.product_address}.html"] = env.get_template("product.html.j2").render(
                root="../",
                current=domain.name,
                domain=domain,
                product=product,
                graph=graph,
                lineage=graph.svg(product),
                metrics=documented(products, product),
                **common,
            )
    for path, template in ASSETS.items():
        pages[path] = env.get_template(template).render()
    pages["assets/search-index.js"] = _search_script(mesh)
    pages[MARKER] = "A documentation site of the data mesh, built by platform_core.catalog.site.\n"
    for path, text in pages.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _sorted(products: tuple[Product, ...]) -> list[Product]:
    return sorted(products, key=lambda p: p.product_address)


class _Graph:
    """Who reads whom, product to product, from the mesh's port inputs."""

    def __init__(self, mesh: Mesh) -> None:
        self.products = {p.product_address: p for p in mesh.products}
        # consumer -> producer -> ports it reads, and the other way round
        self.reads: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self.read_by: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for row in dependency_rows(mesh):
            producer = f"{row['producer_domain']}.{row['producer_product']}"
            self.reads[str(row["consumer"])][producer].add(str(row["producer_port"]))
            self.read_by[producer][str(row["consumer"])].add(str(row["producer_port"]))

    def href(self, address: str, port: str | None = None) -> str | None:
        """The page of a product (and the anchor of one of its ports), relative to another
        product page; None for a product the mesh does not hold (its domain did not load)."""
        product = self.products.get(address)
        if product is None:
            return None
        anchor = f"#port-{port}" if port in {p.name for p in product.output_ports} else ""
        return f"{address}.html{anchor}"

    def input_href(self, source: PortInput) -> str | None:
        return self.href(source.product_address, source.parts[2])

    def readers(self, product: Product, port: str) -> list[str]:
        return sorted(c for c, ports in self.read_by[product.product_address].items() if port in ports)

    def svg(self, product: Product) -> Markup:
        address = product.product_address
        upstream = [self._node(a, "gives " + ", ".join(sorted(p))) for a, p in sorted(self.reads[address].items())]
        downstream = [self._node(a, "reads " + ", ".join(sorted(p))) for a, p in sorted(self.read_by[address].items())]
        return lineage_svg(Node(address, product.title, None), upstream, downstream)

    def _node(self, address: str, note: str) -> Node:
        product = self.products.get(address)
        return Node(address, product.title if product else address, self.href(address), note)


def _search_script(mesh: Mesh) -> str:
    """Every product and port as a script assigning the search index, for the index page's search."""
    entries = []
    for product in _sorted(tuple(mesh.products)):
        page = f"products/{product.product_address}.html"
        owner = [product.owner.team, product.owner.name or "", product.owner.contact or ""]
        entries.append(
            _entry(
                "product",
                product.product_address,
                product.title,
                page,
                product.description,
                [product.name, product.domain, *product.tags, *owner],
            )
        )
        for port in product.output_ports:
            entries.append(
                _entry(
                    "port",
                    product.address(port.name),
                    f"{product.title} / {port.name}",
                    f"{page}#port-{port.name}",
                    port.description,
                    [port.name, *owner, *(c.name for c in port.columns)],
                )
            )
    text = json.dumps(entries, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    inert = text.replace("<", "\\u003c")  # still data, never markup, even if pasted into a page
    return f"window.MESH_SEARCH_INDEX = {inert};\n"


def _entry(kind: str, address: str, title: str, url: str, description: str, terms: list[str]) -> dict[str, str]:
    return {
        "kind": kind,
        "address": address,
        "title": title,
        "url": url,
        "summary": description,
        "name": f"{address} {title}".lower(),
        "text": " ".join([description, *terms]).lower(),
    }
