"""The mesh index: which domains and products there are, where their files lie, who reads whom.

Everything that needs the mesh beyond one product asks this module: the loader (to resolve a
port address), governance (what a producer promises, who reads a port), the descriptor cache
and the platform's refresh sensor (one fingerprint), the catalog, the docs site and the CLI.
It reads descriptors tolerantly (a mistake in a producer's file is the producer's error, not
its consumers') and never imports Dagster.

A mesh is laid out one of two ways:

- `domains`: a project with `domains/<domain>/domain.yaml` and `products/<product>/product.yaml`,
  file inputs read from the domain's folder. Its domains are the ones `workspace.yaml` lists (the
  list Dagster loads), or, in a folder without one, every folder holding a `domain.yaml`.
- `components`: a `dg` project's defs folder, where each `defs.yaml` of type `DataProduct` is a
  product (its attributes are the descriptor), file inputs read from the component's folder.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from platform_core.descriptors.addresses import AddressError, Contract, Resolved, parse_contract, resolve_in
from platform_core.descriptors.files import file_state, read_yaml, settled
from platform_core.descriptors.workspace import read_workspace
from platform_core.errors import PlatformError, ProblemCollector

if TYPE_CHECKING:  # the specs record their mesh; the index does not need them to work
    from platform_core.descriptors.spec import Domain, Product

DOMAIN_FILE = "domain.yaml"
Folder = TypeVar("Folder", Path, str)
Listed = TypeVar("Listed", Path, str)
PRODUCT_FILE = "product.yaml"
COMPONENT_FILE = "defs.yaml"
# The names a defs.yaml may give the component type (the short one resolves through the package).
COMPONENT_TYPES = ("platform_core.DataProduct", "platform_core.dagster.component.DataProduct")
SOURCE_SUFFIXES = (".yaml", ".yml", ".sql", ".py")

Layout = Literal["domains", "components"]


@dataclass(frozen=True)
class ProductEntry:
    """Where one product of the mesh lives: its descriptor, and the folder its file inputs are read from."""

    domain: str
    name: str
    file: Path
    data_root: Path

    @property
    def address(self) -> str:
        return f"{self.domain}.{self.name}"

    @property
    def directory(self) -> Path:
        return self.file.parent


@dataclass(frozen=True)
class MeshIndex:
    """The mesh rooted at `root` (the `domains` folder, or a dg project's defs folder). It keeps
    no state of its own: each question reads the files as they are now."""

    root: Path
    layout: Layout = "domains"
    workspace: Path | None = None  # the workspace.yaml that lists the domains, when there is one

    # --- finding a mesh ----------------------------------------------------------------------

    @classmethod
    def of_workspace(cls, workspace: Path) -> MeshIndex:
        """The mesh of a project's workspace.yaml: the domains it lists, under `domains/`."""
        workspace = workspace.resolve()
        return cls(workspace.parent / "domains", "domains", workspace)

    @classmethod
    def at(cls, domains_root: Path) -> MeshIndex:
        """The mesh of a `domains` folder: its project's workspace, or else every domain folder in it."""
        root = domains_root.resolve()
        workspace = root.parent / "workspace.yaml"
        return cls(root, "domains", workspace if workspace.is_file() else None)

    @classmethod
    def around(cls, domain_dir: Path) -> MeshIndex:
        """The mesh a domain folder belongs to."""
        return cls.at(domain_dir.resolve().parent)

    @classmethod
    def of_defs_folder(cls, defs_root: Path) -> MeshIndex:
        """The products declared as DataProduct components in a dg project's defs folder."""
        return cls(defs_root.resolve(), "components")

    @classmethod
    def of(cls, loaded: Product | Domain) -> MeshIndex:
        """The mesh a loaded product or domain belongs to, as its loader recorded it."""
        if not isinstance(loaded.mesh, MeshIndex):
            raise ValueError(f"{loaded.name} was not loaded by platform_core.descriptors.loader: it has no mesh")
        return loaded.mesh

    # --- what is in it -------------------------------------------------------------------------

    @property
    def people_file(self) -> Path:
        """people.yaml: the groups of people and their members, beside the workspace."""
        return (self.workspace.parent if self.workspace else self.root.parent) / "people.yaml"

    def domain_dirs(self) -> list[Path]:
        """Each domain's folder, in workspace order (or by name without a workspace)."""
        if self.layout == "components":
            return []
        if self.workspace is not None:
            return _workspace_domains(self.workspace)
        try:
            return sorted(p.parent for p in self.root.glob(f"*/{DOMAIN_FILE}"))
        except OSError:
            return []

    def domain_names(self) -> list[str]:
        if self.layout == "components":
            return sorted({entry.domain for entry in self.products()})
        return [folder.name for folder in self.domain_dirs() if (folder / DOMAIN_FILE).is_file()]

    def domain_dir(self, name: str) -> Path | None:
        return next((folder for folder in self.domain_dirs() if folder.name == name), None)

    def products(self, domain: str | None = None) -> list[ProductEntry]:
        """Every product's entry (of one domain), from the files as they are: names are the folders'
        (domains) or what each component declares (components), valid or not."""
        if self.layout == "components":
            entries = _components(self.root)
        else:
            entries = [
                ProductEntry(folder.name, product.name, product / PRODUCT_FILE, folder)
                for folder in self.domain_dirs()
                if domain in (None, folder.name)
                for product in _readable(product_folders, folder)
            ]
        return [entry for entry in entries if domain in (None, entry.domain)]

    def product(self, address: str) -> ProductEntry | None:
        """The entry of `<domain>.<product>`, or None."""
        domain = address.split(".")[0]
        return next((entry for entry in self.products(domain) if entry.address == address), None)

    # --- what producers promise, and who reads them ----------------------------------------------

    def contract(self, product: str, address: str | None = None) -> Contract:
        """What consumers see of a product (`<domain>.<product>`); AddressError when there is none."""
        domain, name = product.split(".")
        where = address or product
        if domain not in self.domain_names():
            raise AddressError(
                f"{where}: there is no domain {domain!r}; domains: {', '.join(sorted(self.domain_names()))}"
            )
        entry = self.product(product)
        if entry is None or not entry.file.is_file():
            known = sorted(e.name for e in self.products(domain))
            raise AddressError(
                f"{where}: domain {domain!r} has no product {name!r}; products: {', '.join(known) or 'none'}"
            )
        return parse_contract(entry.file, product, where, self.layout == "components")

    def resolve(self, address: str) -> Resolved:
        """The port an address (maybe pinned to a major: `...@1`) names, as its consumer reaches it."""
        product = ".".join(address.split("@")[0].split(".")[:2])
        return resolve_in(self.contract(product, address), address)

    def readers_of(self, address: str, major: int | None = None) -> list[str]:
        """Products whose descriptors read port `address` unpinned or pinned to `major`, read
        tolerantly: a broken descriptor elsewhere reads nothing."""
        reading = {address} | ({f"{address}@{major}"} if major is not None else set())
        return sorted({entry.address for entry in self.products() if reading & set(self.reads(entry))})

    def expectations_on(self, product: str) -> list[tuple[str, str, object, object]]:
        """(consumer, address as written, what it expects, its owner) for every port input of the
        mesh that reads a port of `product` (`hr.overtime`) and declares expectations, read
        tolerantly, as raw YAML: the consumer's own loader validates them."""
        found = []
        for entry in self.products():
            data = descriptor_data(entry.file, self.layout == "components")
            if not isinstance(data, dict):
                continue
            inputs = data.get("inputs")
            for source in inputs if isinstance(inputs, list) else []:
                if not isinstance(source, dict) or not isinstance(source.get("expects"), dict):
                    continue
                address = str(source.get("address", ""))
                if address.split("@")[0].rsplit(".", 1)[0] == product:
                    found.append((entry.address, address, source["expects"], data.get("owner")))
        return found

    def reads(self, entry: ProductEntry) -> list[str]:
        """The port addresses a product's descriptor reads, as written (maybe pinned: `...@1`)."""
        return _port_addresses(entry.file, self.layout == "components")

    # --- one fingerprint -----------------------------------------------------------------------

    def fingerprint(self, own: Path | None = None, mesh: str | None = None) -> str:
        """A digest of the mesh's descriptors (and the workspace), plus every source file (YAML, SQL,
        Python) of the domain folder `own` when given: what loading and governing that domain reads.
        Contents, not modification times, so two quick writes are told apart. `mesh` is the index's
        `mesh_digest()` when the caller has just taken it, to fingerprint many domains at once."""
        mesh = mesh or self.mesh_digest()
        if own is None:
            return mesh
        return hashlib.sha256(f"{mesh}\0{_digest_of(_sources(own))}".encode()).hexdigest()

    def mesh_digest(self) -> str:
        """A digest of the mesh's descriptors and workspace (`fingerprint` without a domain's own files)."""
        paths = [str(self.workspace)] if self.workspace else []
        folders = self.domain_dirs()
        paths += [str(self.people_file), *(str(folder / DOMAIN_FILE) for folder in folders)]
        if self.layout == "components":
            paths += [str(entry.file) for entry in self.products()]
        else:  # as products() finds them, as text: every domain's load asks, with hundreds of products
            paths += [
                os.path.join(products, name, PRODUCT_FILE)
                for folder in folders
                for products in (os.path.join(folder, "products"),)
                for name in _readable(_product_names, products)
            ]
        return _digest_of(paths)

    def problem(self) -> str | None:
        """Why the mesh's list of domains cannot be read, or None."""
        try:
            self.domain_dirs()
        except PlatformError as error:
            return str(error)
        return None


def _workspace_domains(workspace: Path) -> list[Path]:
    return list(_listed_domains(str(workspace), *_stat(workspace)))


@functools.lru_cache(maxsize=64)
def _listed_domains(workspace: str, _mtime_ns: int, _size: int) -> tuple[Path, ...]:
    """Each domain of the workspace, under the location's working directory (relative to the file),
    read once per version of the file."""
    base = Path(workspace).resolve().parent
    return tuple(
        (base / location.working_directory).resolve() / "domains" / location.domain
        for location in read_workspace(Path(workspace))
        if location.domain
    )


def product_folders(domain_dir: Path) -> list[Path]:
    """A domain's product folders (each should hold a product.yaml); OSError when they cannot be read."""
    products = domain_dir / "products"
    return [products / name for name in _product_names(str(products))]


def _product_names(products: str) -> list[str]:
    """The names of the product folders in a domain's `products` folder (none if it is missing)."""
    if not os.path.isdir(products):
        return []
    with os.scandir(products) as entries:  # the directory's own entry types: no stat per product
        return sorted(e.name for e in entries if e.is_dir() and e.name != "__pycache__" and not e.name.startswith("."))


def _readable(listing: Callable[[Folder], list[Listed]], folder: Folder) -> list[Listed]:
    try:
        return listing(folder)
    except OSError:
        return []


def _components(defs_root: Path) -> list[ProductEntry]:
    entries = []
    for path in sorted(defs_root.rglob(COMPONENT_FILE)):
        attributes = component_attributes(path)
        if attributes is not None:
            domain, name = str(attributes.get("domain", "")), str(attributes.get("name", path.parent.name))
            entries.append(ProductEntry(domain, name, path, path.parent))
    return entries


def component_attributes(path: Path) -> dict | None:
    """The attributes of a defs.yaml that declares a DataProduct, or None for any other file."""
    data = _read(str(path), *_stat(path))
    if not isinstance(data, dict) or data.get("type") not in COMPONENT_TYPES:
        return None
    attributes = data.get("attributes")
    return attributes if isinstance(attributes, dict) else {}


def _port_addresses(path: Path, component: bool) -> list[str]:
    """What a descriptor reads of other products: its port inputs' addresses, and the metrics its
    `query:` steps ask by address (`hr.overtime.overtime_cost`)."""
    data = descriptor_data(path, component)
    if not isinstance(data, dict):
        return []
    inputs = data.get("inputs")
    found = (
        [str(entry["address"]) for entry in inputs if isinstance(entry, dict) and "address" in entry]
        if isinstance(inputs, list)
        else []
    )
    layers = data.get("layers")
    steps = (
        [s for layer in layers.values() if isinstance(layer, list) for s in layer] if isinstance(layers, dict) else []
    )
    ports = data.get("output_ports")
    steps += ports if isinstance(ports, list) else []
    for step in steps:
        query = step.get("query") if isinstance(step, dict) else None
        asked = query.get("metrics") if isinstance(query, dict) else None
        found += [str(m) for m in asked if str(m).count(".") == 2] if isinstance(asked, list) else []
    return found


def descriptor_data(path: Path, component: bool) -> object:
    """A product descriptor's YAML as data (a component's attributes), or None where it does not read."""
    return component_attributes(path) if component else _read(str(path), *_stat(path))


def _stat(path: Path) -> tuple[int, int]:
    try:
        status = path.stat()
    except OSError:
        return 0, -1
    return status.st_mtime_ns, status.st_size


@functools.lru_cache(maxsize=1024)
def _read(path: str, _mtime_ns: int, _size: int) -> object:
    """A descriptor's YAML, read once per version of the file; None when it cannot be read."""
    return read_yaml(Path(path), ProblemCollector())


def _sources(domain_dir: Path) -> list[str]:
    """A domain's own source files: its descriptors, SQL and modules (not its data)."""
    found = [os.path.join(domain_dir, name) for name in _names(str(domain_dir))]
    for folder, subfolders, names in os.walk(domain_dir / "products"):
        subfolders[:] = [name for name in subfolders if name != "__pycache__"]
        found += [os.path.join(folder, name) for name in names if name.endswith(SOURCE_SUFFIXES)]
    return found


def _names(folder: str) -> Iterator[str]:
    try:
        yield from (
            entry.name for entry in os.scandir(folder) if entry.is_file() and entry.name.endswith(SOURCE_SUFFIXES)
        )
    except OSError:
        return


_DIGESTS: dict[str, tuple[tuple[int, int, int], str]] = {}
# a set of files' digest, with each file's state when it was taken: every domain's load asks for
# the whole mesh's, and this spares hashing it again while no file changed
SET_DIGESTS_KEPT = 256
_SET_DIGESTS: dict[tuple[str, ...], tuple[tuple[tuple[int, int, int] | None, ...], str]] = {}


def _digest_of(paths: list[str]) -> str:
    """A digest of the files' paths and contents (a missing or irregular file counts as absent),
    kept while no file's size, time or inode changes and none is racily new."""
    unique = tuple(sorted(set(paths)))
    states = tuple(file_state(path) for path in unique)
    known = _SET_DIGESTS.get(unique)
    if known is not None and known[0] == states:
        return known[1]
    digest = hashlib.sha256()
    for path in unique:
        if (content := file_digest(path)) is not None:
            digest.update(f"{path}\0{content}\0".encode())
    if all(settled(state) for state in states):
        if len(_SET_DIGESTS) >= SET_DIGESTS_KEPT:  # the oldest set goes: a long-lived process sees meshes change
            del _SET_DIGESTS[next(iter(_SET_DIGESTS))]
        _SET_DIGESTS[unique] = (states, digest.hexdigest())
    return digest.hexdigest()


def file_digest(path: str) -> str | None:
    """The SHA-256 of a regular file's bytes, or None for anything else; kept while the file's
    size, time and inode are unchanged and it is not racily new."""
    state = file_state(path)
    if state is None:
        return None
    known = _DIGESTS.get(path)
    if known is not None and known[0] == state:
        return known[1]
    with open(path, "rb") as handle:
        content = hashlib.sha256(handle.read()).hexdigest()
    if settled(state):
        _DIGESTS[path] = (state, content)
    return content
