"""The platform's environment, read in one place and only when definitions are built."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from platform_core.descriptors.durations import parse_duration
from platform_core.descriptors.workspace import find_workspace
from platform_core.storage.lake_config import LakeConfig, ObjectStore

if TYPE_CHECKING:
    from platform_core.storage.usage import UsageLog
    from platform_core.storage.warehouse import Warehouse

WAREHOUSE_VARIABLE = "MESH_WAREHOUSE"
WORKSPACE_VARIABLE = "MESH_WORKSPACE"
SITE_VARIABLE = "MESH_SITE"
LAKE_CATALOG_VARIABLE = "MESH_LAKE_CATALOG"
LAKE_DATA_VARIABLE = "MESH_LAKE_DATA"
LAKE_RETENTION_VARIABLE = "MESH_LAKE_RETENTION"
# An `s3://` data path is reached with the usual AWS variables, and at an S3-compatible store's
# own address when this one is set (`http://127.0.0.1:9000`).
S3_ENDPOINT_VARIABLE = "MESH_S3_ENDPOINT"
DEFAULT_RETENTION = timedelta(days=30)
# How long the usage journal (platform_core.storage.usage) keeps who read what.
USAGE_RETENTION_VARIABLE = "MESH_USAGE_RETENTION"
DEFAULT_USAGE_RETENTION = timedelta(days=180)
# The key that masks personal data for consumers without a grant: from this variable, or else
# from a file outside the repository (scripts/bootstrap.sh creates one), never committed.
MASKING_KEY_VARIABLE = "MESH_MASKING_KEY"
MASKING_KEY_FILE_VARIABLE = "MESH_MASKING_KEY_FILE"
# The serving database (platform_core.serving): any PostgreSQL by URL (a secret: read when a run
# serves, never kept in definitions), else the embedded one under <warehouse>/serving on this port;
# MESH_SERVING=off serves nobody.
SERVING_URL_VARIABLE = "MESH_SERVING_URL"
SERVING_VARIABLE = "MESH_SERVING"
SERVING_PORT_VARIABLE = "MESH_SERVING_PORT"
DEFAULT_SERVING_PORT = 5433
# Domains whose pandas steps may run without Landlock's sandbox on a kernel that has none: the
# platform team's decision, never a domain's (comma-separated names, or * for every domain).
UNSANDBOXED_PYTHON_VARIABLE = "MESH_UNSANDBOXED_PYTHON"
# How much memory a run's compute database may hold (DuckDB's memory_limit: `2GB`, `512MB`) before it
# writes to its temporary files: ephemeral layers then stay within it. Unset: DuckDB's default, 80% of RAM.
COMPUTE_MEMORY_VARIABLE = "MESH_COMPUTE_MEMORY"
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    warehouse_root: Path
    workspace: Path = Path("workspace.yaml")
    lake: LakeConfig | None = None  # None: the local lake under the warehouse root
    lake_retention: timedelta = DEFAULT_RETENTION
    usage_retention: timedelta = DEFAULT_USAGE_RETENTION
    masking_key_file: Path | None = None  # read when a run masks personal data, if the variable is unset
    site: Path | None = None  # None: the docs site under the warehouse root
    serving: str = "auto"  # auto (MESH_SERVING_URL, else the embedded database once made), embedded or off
    serving_port: int = DEFAULT_SERVING_PORT
    unsandboxed_python: frozenset[str] = frozenset()  # domains allowed pandas steps without a sandbox
    compute_memory: str | None = None  # DuckDB's memory_limit for a run's compute database; None: its default
    alerts: AlertSettings = field(default_factory=lambda: AlertSettings())  # who hears of broken promises, how

    @property
    def serving_root(self) -> Path:
        return self.warehouse_root / "serving"

    @property
    def usage(self) -> UsageLog:
        return self.warehouse().usage

    @property
    def site_root(self) -> Path:
        return self.site or self.warehouse_root / "site"

    @property
    def lake_config(self) -> LakeConfig:
        return self.lake or LakeConfig.local(self.warehouse_root)

    def warehouse(self) -> Warehouse:
        from platform_core.storage.warehouse import Warehouse  # DuckDB, imported when storage is opened

        return Warehouse.from_settings(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """`MESH_WAREHOUSE` sets the storage root (default `warehouse/`), `MESH_WORKSPACE` the
        workspace whose domains the catalog lists (default `workspace.yaml`), both relative to
        the project folder: the working directory, or the nearest one above it with a workspace.yaml.
        The lake defaults to a SQLite catalog and a data folder under the root;
        `MESH_LAKE_CATALOG` (`sqlite:<file>` or `postgres:<connection string>`) and
        `MESH_LAKE_DATA` (a folder or `s3://bucket/prefix/`) move it, `MESH_LAKE_RETENTION`
        (`30d`) says how long its history is kept, `MESH_USAGE_RETENTION` (`180d`) how long the usage
        journal keeps who read what; an `s3://` data path takes its credentials from
        `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_REGION`, and `MESH_S3_ENDPOINT` for
        an S3-compatible store; `MESH_SITE` where the docs site is written (default `<root>/site`);
        `MESH_COMPUTE_MEMORY` (`2GB`) how much memory a run's compute database holds before it
        writes to its temporary files."""
        environ = os.environ if environ is None else environ
        project = find_workspace().parent  # the working directory, or the project folder above it
        root = (project / Path(environ.get(WAREHOUSE_VARIABLE) or "warehouse").expanduser()).resolve()
        workspace = (project / Path(environ.get(WORKSPACE_VARIABLE) or "workspace.yaml").expanduser()).resolve()
        default = LakeConfig.local(root)
        catalog = environ.get(LAKE_CATALOG_VARIABLE) or default.catalog
        if catalog.startswith("sqlite:"):  # a relative file is taken from the working directory, like the root
            catalog = f"sqlite:{Path(catalog.removeprefix('sqlite:')).expanduser().resolve()}"
        data = environ.get(LAKE_DATA_VARIABLE) or default.data_path
        if "://" not in data:
            data = f"{Path(data).expanduser().resolve()}/"
        lake = LakeConfig(
            catalog=catalog, data_path=data, store=object_store(environ) if data.startswith("s3://") else None
        )
        retention = _duration(environ, LAKE_RETENTION_VARIABLE, DEFAULT_RETENTION)
        key_file = environ.get(MASKING_KEY_FILE_VARIABLE) or str(default_key_file(environ))
        site = environ.get(SITE_VARIABLE)
        return cls(
            warehouse_root=root,
            workspace=workspace,
            lake=None if lake == default else lake,
            lake_retention=retention,
            usage_retention=_duration(environ, USAGE_RETENTION_VARIABLE, DEFAULT_USAGE_RETENTION),
            masking_key_file=Path(key_file).expanduser().resolve(),
            site=Path(site).expanduser().resolve() if site else None,
            serving=serving_mode(environ),
            serving_port=int(environ.get(SERVING_PORT_VARIABLE) or DEFAULT_SERVING_PORT),
            unsandboxed_python=frozenset(
                name.strip() for name in (environ.get(UNSANDBOXED_PYTHON_VARIABLE) or "").split(",") if name.strip()
            ),
            alerts=AlertSettings.from_env(environ),
            compute_memory=_memory(environ),
        )


def _memory(environ: Mapping[str, str]) -> str | None:
    text = (environ.get(COMPUTE_MEMORY_VARIABLE) or "").strip()
    if not text:
        return None
    if not _MEMORY.match(text):
        raise ValueError(f"{COMPUTE_MEMORY_VARIABLE}={text!r}: write a size such as 2GB or 512MB")
    return text


def _duration(environ: Mapping[str, str], variable: str, default: timedelta) -> timedelta:
    text = environ.get(variable)
    if not text:
        return default
    try:
        return parse_duration(text)
    except ValueError as error:
        raise ValueError(f"{variable}: {error}") from None


def serving_mode(environ: Mapping[str, str]) -> str:
    mode = (environ.get(SERVING_VARIABLE) or "auto").strip().lower()
    if mode not in ("auto", "embedded", "off"):
        raise ValueError(f"{SERVING_VARIABLE}={mode!r}: use auto, embedded or off")
    return mode


def serving_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The external serving database's URL, read when a run serves (it holds a password)."""
    return (os.environ if environ is None else environ).get(SERVING_URL_VARIABLE) or None


def object_store(environ: Mapping[str, str]) -> ObjectStore | None:
    """The credentials of an `s3://` data path, or None without a key (DuckDB then reads anonymously)."""
    key_id, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if not key_id or not secret:
        return None
    return ObjectStore(
        key_id=key_id,
        secret=secret,
        region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        endpoint=environ.get(S3_ENDPOINT_VARIABLE) or None,
    )


def default_key_file(environ: Mapping[str, str]) -> Path:
    """Where scripts/bootstrap.sh keeps the masking key: the user's configuration, not the project."""
    config = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or "~") / ".config")
    return Path(config).expanduser() / "dagster-data-mesh" / "masking.key"


def dagster_home(environ: Mapping[str, str] | None = None) -> Path:
    """The Dagster instance's directory, `DAGSTER_HOME`, as Dagster itself requires it."""
    environ = os.environ if environ is None else environ
    home = environ.get("DAGSTER_HOME")
    if not home:
        raise RuntimeError("DAGSTER_HOME is not set: it names the Dagster instance's directory (see README)")
    return Path(home).expanduser().resolve()


# OpenLineage (platform_core.catalog.openlineage, docs/openlineage.md). Where events go is the
# client's own configuration: an openlineage.yml (named by OPENLINEAGE_CONFIG, else in the working
# directory, else in ~/.openlineage) or its variables (OPENLINEAGE_URL, OPENLINEAGE__TRANSPORT__*).
# Without any, the client would print every event on the console: the platform then sends nothing.
OPENLINEAGE_PREFIX = "OPENLINEAGE"
OPENLINEAGE_NAMESPACE_VARIABLE = "OPENLINEAGE_NAMESPACE"  # the name other OpenLineage integrations read too
DEFAULT_OPENLINEAGE_NAMESPACE = "mesh"
# Variables the client writes itself, from OPENLINEAGE_URL, when it starts: not configuration.
OPENLINEAGE_CLIENT_ALIASES = "OPENLINEAGE__TRANSPORT__TRANSPORTS__DEFAULT_HTTP__"


@dataclass(frozen=True)
class OpenLineageSettings:
    namespace: str = DEFAULT_OPENLINEAGE_NAMESPACE  # of the products (jobs) and their ports (datasets)
    configured: bool = False  # something tells the client where to send events
    # A digest of the client's variables and configuration file: one client per configuration, and
    # no credential (OPENLINEAGE_API_KEY) kept in clear here.
    fingerprint: str = ""


def openlineage_settings(
    environ: Mapping[str, str] | None = None, cwd: Path | None = None, home: Path | None = None
) -> OpenLineageSettings:
    """Read when a run starts; `OPENLINEAGE_DISABLED=true` turns the events off as it does for the client."""
    environ = os.environ if environ is None else environ
    variables = sorted(
        (name, value)
        for name, value in environ.items()
        if name.startswith(OPENLINEAGE_PREFIX) and not name.startswith(OPENLINEAGE_CLIENT_ALIASES)
    )
    home = home or Path(environ.get("HOME") or "~").expanduser()
    candidates = [Path(environ["OPENLINEAGE_CONFIG"])] if environ.get("OPENLINEAGE_CONFIG") else []
    candidates += [(cwd or Path.cwd()) / "openlineage.yml", home / ".openlineage" / "openlineage.yml"]
    config_file = next((path for path in candidates if path.is_file()), None)
    configured = bool(
        config_file is not None
        or environ.get("OPENLINEAGE_URL")
        or any(name.startswith("OPENLINEAGE__TRANSPORT__") for name, _ in variables)
    )
    digest = hashlib.sha256(repr((variables, str(config_file))).encode()).hexdigest()
    return OpenLineageSettings(
        namespace=environ.get(OPENLINEAGE_NAMESPACE_VARIABLE) or DEFAULT_OPENLINEAGE_NAMESPACE,
        configured=configured and (environ.get("OPENLINEAGE_DISABLED") or "").strip().lower() != "true",
        fingerprint=digest,
    )


# Alerts (platform_core.alerts, docs/alerts.md): e-mail through an SMTP server, links to the UI, and
# the platform's defaults. The SMTP password and webhook URLs are secrets, read when a message goes.
SMTP_HOST_VARIABLE = "MESH_SMTP_HOST"
SMTP_PORT_VARIABLE = "MESH_SMTP_PORT"
SMTP_FROM_VARIABLE = "MESH_SMTP_FROM"
SMTP_USER_VARIABLE = "MESH_SMTP_USER"
SMTP_PASSWORD_VARIABLE = "MESH_SMTP_PASSWORD"
SMTP_STARTTLS_VARIABLE = "MESH_SMTP_STARTTLS"
UI_URL_VARIABLE = "MESH_UI_URL"
SUNSET_NOTICE_VARIABLE = "MESH_ALERT_SUNSET_NOTICE"
ALERTS_VARIABLE = "MESH_ALERTS"


@dataclass(frozen=True)
class AlertSettings:
    enabled: bool = True  # MESH_ALERTS=off: nothing is sent (the state is still followed)
    smtp_host: str | None = None  # None: no e-mail; webhooks still go
    smtp_port: int = 25
    smtp_from: str = "data-mesh@localhost"
    smtp_user: str | None = None
    smtp_starttls: bool = False
    ui_url: str = "http://127.0.0.1:3000"  # links in messages point at the asset in the Dagster UI
    sunset_notice: timedelta = timedelta(days=30)  # consumers hear this long before a sunset
    timeout_seconds: float = 10.0  # for the mail server and each webhook

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertSettings:
        environ = os.environ if environ is None else environ
        mode = (environ.get(ALERTS_VARIABLE) or "on").strip().lower()
        if mode not in ("on", "off"):
            raise ValueError(f"{ALERTS_VARIABLE}={mode!r}: use on or off")
        return cls(
            enabled=mode == "on",
            smtp_host=environ.get(SMTP_HOST_VARIABLE) or None,
            smtp_port=int(environ.get(SMTP_PORT_VARIABLE) or 25),
            smtp_from=environ.get(SMTP_FROM_VARIABLE) or cls.smtp_from,
            smtp_user=environ.get(SMTP_USER_VARIABLE) or None,
            smtp_starttls=(environ.get(SMTP_STARTTLS_VARIABLE) or "").strip().lower() in ("1", "true", "yes"),
            ui_url=(environ.get(UI_URL_VARIABLE) or cls.ui_url).rstrip("/"),
            sunset_notice=_duration(environ, SUNSET_NOTICE_VARIABLE, cls.sunset_notice),
        )


def secret(variable: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A secret from the environment (the SMTP password, a webhook's URL), read when it is used."""
    return (os.environ if environ is None else environ).get(variable) or None
