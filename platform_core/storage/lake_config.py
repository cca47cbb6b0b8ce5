"""Where the lake lives, as settings give it: DuckLake's catalog and data path, and the object
store's credentials. Apart from platform_core.storage.lake so that reading the settings imports
no DuckDB: a command that never opens the lake does not pay for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from platform_core.descriptors.names import literal

CATALOG_KINDS = {"sqlite": "sqlite_scanner", "postgres": "postgres_scanner"}


class LakeError(RuntimeError):
    """The lake cannot be opened or a commit could not land; the message says which and why."""


@dataclass(frozen=True)
class ObjectStore:
    """How DuckDB reaches an `s3://` data path: AWS itself, or any S3-compatible store at
    `endpoint` (`http://127.0.0.1:9000`: a MinIO, a Ceph gateway, a test server), which is
    addressed by path, as such stores expect."""

    key_id: str
    secret: str = field(repr=False)
    region: str = "us-east-1"
    endpoint: str | None = None

    def secret_sql(self, scope: str) -> str:
        """A temporary DuckDB secret for the data path: it lives in the connection's database only."""
        options = [
            f"KEY_ID {literal(self.key_id)}",
            f"SECRET {literal(self.secret)}",
            f"REGION {literal(self.region)}",
            f"SCOPE {literal(scope)}",
        ]
        if self.endpoint:
            scheme, _, host = self.endpoint.partition("://")
            options += [
                f"ENDPOINT {literal(host.rstrip('/') or scheme)}",
                "URL_STYLE 'path'",
                f"USE_SSL {'false' if scheme == 'http' else 'true'}",
            ]
        return f"CREATE OR REPLACE TEMPORARY SECRET mesh_lake_data (TYPE S3, {', '.join(options)})"


@dataclass(frozen=True)
class LakeConfig:
    """Where the lake lives: DuckLake's catalog (`sqlite:<file>` or `postgres:<libpq string>`)
    and its data path (a folder, or `s3://bucket/prefix/` with the object store's credentials)."""

    catalog: str
    data_path: str
    store: ObjectStore | None = None

    def __post_init__(self) -> None:
        kind = self.catalog.split(":", 1)[0]
        if kind not in CATALOG_KINDS or ":" not in self.catalog:
            raise LakeError(f"bad lake catalog {self.catalog!r}: write sqlite:<file> or postgres:<connection string>")

    @classmethod
    def local(cls, root: Path) -> LakeConfig:
        """The default: a SQLite catalog and a data folder under the warehouse root (made absolute:
        the catalog keeps the data folder's path, and a relative one would not match it elsewhere)."""
        root = Path(root).expanduser().resolve()
        return cls(catalog=f"sqlite:{root / 'lake' / 'catalog.sqlite'}", data_path=f"{root / 'lake' / 'data'}/")

    @property
    def kind(self) -> str:
        return self.catalog.split(":", 1)[0]

    @property
    def sqlite_file(self) -> Path | None:
        return Path(self.catalog.split(":", 1)[1]) if self.kind == "sqlite" else None

    @property
    def is_remote(self) -> bool:
        return self.data_path.startswith(("s3://", "gs://", "https://"))

    @property
    def extensions(self) -> tuple[str, ...]:
        return ("ducklake", CATALOG_KINDS[self.kind], *(("httpfs",) if self.is_remote else ()))
