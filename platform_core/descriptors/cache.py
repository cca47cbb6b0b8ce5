"""Loaded domains kept on disk, so that every process that loads a domain does not validate it anew.

Dagster loads a code location in many processes: the webserver's code server, the daemon's,
every run's worker, every `dagster asset materialize`. Validating a domain means parsing each
descriptor and analysing each SQL file and rule in DuckDB (about 10 ms per product), while the
result only changes when the domain's files or the platform's code do. The result of a
successful load is therefore written into the domain's `__pycache__` folder, keyed by a digest
of exactly that, and read back (about 1 ms per domain) by the next process, as Python keeps
compiled modules there; it goes with the domain's folder. A domain that fails to load is never
cached: its problems are reported every time. A folder that cannot be written only costs time.

Two more things are kept under the same key, because they too change only with those files:
the SQL parses that governing the domain needs (platform_core.descriptors.lineage), stored with
the domain, and verdicts such as whether Dagster accepts the domain's definitions
(`remembered_verdict`), which `mesh check` and `mesh status` would otherwise build every domain's
definitions, and import Dagster, to learn.
"""

from __future__ import annotations

import atexit
import functools
import gc
import hashlib
import json
import pickle
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from platform_core.descriptors import lineage
from platform_core.descriptors.files import read_own, write_own
from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.mesh_index import MeshIndex
from platform_core.descriptors.sensitivity import Sensitivity
from platform_core.descriptors.spec import Domain, FileInput

CACHE_FOLDER = "__pycache__"
CACHE_PREFIX = "mesh-descriptors-"
VERDICT_PREFIX = "mesh-verdict-"


def sources_fingerprint(directory: Path, index: MeshIndex | None = None) -> str:
    """A digest of what loading and governing the domain reads: its own descriptors, SQL and
    modules, and the descriptors of the rest of its mesh (governance reads them; their SQL and
    data it does not): the mesh index's one fingerprint, with this domain's sources."""
    return (index or MeshIndex.around(directory)).fingerprint(own=directory)


@functools.cache
def code_digest() -> str:
    """What else a load's result depends on: the platform's own modules and the libraries that
    validate (pydantic) and analyse (DuckDB, Dagster's own name rules)."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(sys.version.encode())
    for library in ("pydantic", "duckdb", "dagster", "pyyaml", "sqlglot"):
        digest.update(f"{library}={metadata.version(library)}\0".encode())
    for path in sorted(package.rglob("*.py")):
        status = path.stat()
        digest.update(f"{path.relative_to(package)}\0{status.st_size}\0{status.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def load_domain_cached(directory: Path, fingerprint: str | None = None, index: MeshIndex | None = None) -> Domain:
    """`load_domain` in its mesh (by default the one around the domain), from the cache when the
    domain's sources, the mesh's descriptors and the platform are unchanged."""
    exit_without_collecting()
    directory = directory.resolve()
    index = index or MeshIndex.around(directory)
    folder = directory / CACHE_FOLDER
    path = folder / f"{CACHE_PREFIX}{_key(directory, index, fingerprint)}.pickle"
    with collection_paused():
        cached = _read(path)
        if cached is not None and _file_inputs_present(cached[0]):
            lineage.remember(cached[1])
            return cached[0]
        domain = load_domain(directory, index)  # raises with every problem; nothing is written then
        with lineage.recording() as parses:
            _follow_sensitivity(domain)
        _derive_rules(domain)
    _write(folder, path, pickle.dumps((domain, parses), protocol=pickle.HIGHEST_PROTOCOL), CACHE_PREFIX)
    return domain


@contextmanager
def collection_paused() -> Iterator[None]:
    """No garbage collection while a domain loads. A load makes tens of thousands of objects that
    all live on (a product's descriptors, then its definitions), and each full collection meanwhile
    walks every object the process holds: 9 of them took 1.1 s of loading 1000 products. Collected
    once afterwards instead, when Python next decides to."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


@functools.cache
def exit_without_collecting() -> None:
    """Let this process exit without the interpreter's last garbage collections. A process that
    loaded domains holds their descriptors and definitions, hundreds of thousands of objects
    with a large mesh, and as it exits the interpreter walks them all to find cycles (1.1 s of a
    process that loaded 1000 products, more than plain Dagster's whole exit), while the process's
    memory goes with it anyway. Frozen at exit, they are left to that. Python never promised to
    finalize objects still alive at exit; files and connections are closed where they are used."""
    atexit.register(gc.freeze)


def remembered_verdict(domain: Domain, question: str, judge: Callable[[], str | None]) -> str | None:
    """`judge()`'s answer about a loaded domain, kept while the domain's sources, its mesh's
    descriptors, the platform and `question` (what else the answer depends on) are unchanged."""
    directory = domain.directory.resolve()
    key = hashlib.sha256(f"{_key(directory, MeshIndex.of(domain))}\0{question}".encode()).hexdigest()[:40]
    folder = directory / CACHE_FOLDER
    path = folder / f"{VERDICT_PREFIX}{key}.json"
    try:
        with path.open() as handle:
            kept = json.load(handle)
        if isinstance(kept, dict) and isinstance(kept.get("answer"), str | None):
            return kept["answer"]
    except (OSError, ValueError):
        pass
    answer = judge()
    _write(folder, path, json.dumps({"answer": answer}).encode(), VERDICT_PREFIX)
    return answer


def _key(directory: Path, index: MeshIndex, fingerprint: str | None = None) -> str:
    return hashlib.sha256(
        f"{directory}\0{index}\0{fingerprint or sources_fingerprint(directory, index)}\0{code_digest()}".encode()
    ).hexdigest()[:40]


def _follow_sensitivity(domain: Domain) -> None:
    """Where each step's sensitive values come from, as governance asks next: the parses it needs."""
    for product in domain.products:
        sensitivity = Sensitivity(product)
        for _, step in product.steps:
            sensitivity.personal(step.name)
            sensitivity.restricted(step.name)


def _derive_rules(domain: Domain) -> None:
    """Each step's rules, those its columns imply included, derived once and kept with the domain:
    deriving them makes new rules, which pydantic validates, in every process that asks."""
    for product in domain.products:
        for _, step in product.steps:
            for derived in (step.rules, step.nullability, step.checked_rules):
                assert isinstance(derived, tuple), step.name


def _file_inputs_present(domain: Domain) -> bool:
    """The one thing a load checks beyond the hashed sources: that each file input exists."""
    return all(
        (product.data_root / source.path).exists()
        for product in domain.products
        for source in product.inputs
        if isinstance(source, FileInput)
    )


def _read(path: Path) -> tuple[Domain, lineage.Parses] | None:
    """The cached domain, if the file is there and only this user could have written it: unpickling
    runs code, so a file others may write to is never read (as for any module of the project)."""
    data = read_own(path)
    if data is None:
        return None
    try:
        cached = pickle.loads(data)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None
    if isinstance(cached, tuple) and len(cached) == 2 and isinstance(cached[0], Domain) and isinstance(cached[1], dict):
        return cached
    return None


def _write(folder: Path, path: Path, entry: bytes, prefix: str) -> None:
    """Written whole by a rename (several processes load at once); the domain's older entries of
    the kind removed. A cache that cannot be written costs time, never a load."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_own(path, entry)
        for older in folder.glob(f"{prefix}*"):
            if older != path:
                older.unlink(missing_ok=True)
    except OSError:
        pass
