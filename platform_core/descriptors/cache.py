"""Loaded domains kept on disk, so that every process that loads a domain does not validate it anew.

Dagster loads a code location in many processes: the webserver's code server, the daemon's,
every run's worker, every `dagster asset materialize`. Validating a domain means parsing each
descriptor and analysing each SQL file and rule in DuckDB (about 10 ms per product), while the
result only changes when the domain's files or the platform's code do. The result of a
successful load is therefore written into the domain's `__pycache__` folder, keyed by a digest
of exactly that, and read back (about 1 ms per domain) by the next process, as Python keeps
compiled modules there; it goes with the domain's folder. A domain that fails to load is never
cached: its problems are reported every time. A folder that cannot be written only costs time.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import stat
import sys
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from platform_core.descriptors.loader import load_domain
from platform_core.descriptors.spec import Domain, FileInput

SOURCE_SUFFIXES = (".yaml", ".yml", ".sql", ".py")
CACHE_FOLDER = "__pycache__"
CACHE_PREFIX = "mesh-descriptors-"
# A file changed less than this long ago is hashed again on every call: two writes within one
# tick of the file system's clock can leave size and modification time unchanged (git's
# "racily clean" entries).
RACY_SECONDS = 2.0

_DIGESTS: dict[str, tuple[tuple[int, int, int], str]] = {}


def sources_fingerprint(directory: Path) -> str:
    """A digest of what loading and governing the domain reads: its own descriptors, SQL and
    modules, and the descriptors of the other domains (governance reads them; their SQL and
    data it does not). Contents, not modification times, so two quick writes are told apart;
    a file's digest is kept while its size and time are unchanged and it is not racily new.
    Plain strings and os.scandir: this runs for every domain's build, over the whole mesh."""
    own = [os.path.join(folder, name) for top in (str(directory), os.path.join(directory, "products"))
           for folder, _, names in _walk(top, recursive=top != str(directory))
           for name in names if name.endswith(SOURCE_SUFFIXES)]
    others = [path for sibling in _folders(str(directory.parent)) if sibling != str(directory)
              for path in (os.path.join(sibling, "domain.yaml"),
                           *(os.path.join(product, "product.yaml")
                             for product in _folders(os.path.join(sibling, "products"))))]
    digest = hashlib.sha256()
    for path in sorted(own + others):
        if (content := file_digest(path)) is not None:
            digest.update(f"{path}\0{content}\0".encode())
    return digest.hexdigest()


def _walk(top: str, recursive: bool) -> Iterator[tuple[str, list[str], list[str]]]:
    """os.walk without `__pycache__`, or only the folder itself."""
    for folder, subfolders, names in os.walk(top):
        subfolders[:] = [name for name in subfolders if name != "__pycache__"] if recursive else []
        yield folder, subfolders, names


def _folders(parent: str) -> list[str]:
    try:
        return [entry.path for entry in os.scandir(parent) if entry.is_dir()]
    except OSError:
        return []


def file_digest(path: str) -> str | None:
    """The SHA-256 of a regular file's bytes, or None for anything else."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(status.st_mode):
        return None
    state = (status.st_size, status.st_mtime_ns, status.st_ino)
    known = _DIGESTS.get(path)
    if known is not None and known[0] == state:
        return known[1]
    with open(path, "rb") as handle:
        content = hashlib.sha256(handle.read()).hexdigest()
    if time.time() - status.st_mtime > RACY_SECONDS:
        _DIGESTS[path] = (state, content)
    return content


@functools.cache
def code_digest() -> str:
    """What else a load's result depends on: the platform's own modules and the libraries that
    validate (pydantic) and analyse (DuckDB, Dagster's own name rules)."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(sys.version.encode())
    for library in ("pydantic", "duckdb", "dagster", "pyyaml"):
        digest.update(f"{library}={metadata.version(library)}\0".encode())
    for path in sorted(package.rglob("*.py")):
        status = path.stat()
        digest.update(f"{path.relative_to(package)}\0{status.st_size}\0{status.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def load_domain_cached(directory: Path, fingerprint: str | None = None) -> Domain:
    """`load_domain`, from the cache when the domain's sources and the platform are unchanged."""
    directory = directory.resolve()
    key = hashlib.sha256(f"{directory}\0{fingerprint or sources_fingerprint(directory)}\0{code_digest()}"
                         .encode()).hexdigest()[:40]
    folder = directory / CACHE_FOLDER
    path = folder / f"{CACHE_PREFIX}{key}.pickle"
    cached = _read(path)
    if cached is not None and _file_inputs_present(cached):
        return cached
    domain = load_domain(directory)  # raises with every problem; nothing is written then
    _write(folder, path, domain)
    return domain


def _file_inputs_present(domain: Domain) -> bool:
    """The one thing a load checks beyond the hashed sources: that each file input exists."""
    return all((domain.directory / source.path).exists()
               for product in domain.products for source in product.inputs if isinstance(source, FileInput))


def _read(path: Path) -> Domain | None:
    """The cached domain, if the file is there and only this user could have written it: unpickling
    runs code, so a file others may write to is never read (as for any module of the project)."""
    try:
        with path.open("rb") as handle:
            status = os.fstat(handle.fileno())
            if status.st_uid != os.getuid() or status.st_mode & 0o022:
                return None
            domain = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None
    return domain if isinstance(domain, Domain) else None


def _write(folder: Path, path: Path, domain: Domain) -> None:
    """Written whole by a rename (several processes load at once); the domain's older entries
    removed. A cache that cannot be written costs time, never a load."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{path.name}.{os.getpid()}"
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            pickle.dump(domain, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
        for older in folder.glob(f"{CACHE_PREFIX}*.pickle"):
            if older != path:
                older.unlink(missing_ok=True)
    except OSError:
        pass
