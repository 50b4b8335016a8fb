"""A private PostgreSQL + PostGIS cluster in one data directory, controlled without Docker.

Layout of the data directory (`FLOWDB_DATA_DIR`):

    flowdb.json      marker: this directory belongs to flowdb (written last by `init`)
    pgdata/          the PostgreSQL cluster
    logs/            postgresql.log
    run/             the Unix socket (0700: only the owner and root may use it)

PostgreSQL refuses to run as root, so when the caller is root every server-side program runs as an
unprivileged user (`FLOWDB_OS_USER`, default `postgres`) that owns the directory.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from flowdb import migrate, roles
from flowdb.errors import FlowDBError
from flowdb.settings import DATABASE, Settings
from flowdb.tuning import FIXED_SETTINGS, compute_tuning

MARKER = "flowdb.json"
MARKER_KIND = "flowdb-cluster"
PARTIAL = ".pgdata.partial"
MIN_PG_MAJOR = 15


def find_bindir(settings: Settings) -> Path:
    """The PostgreSQL server binaries: FLOWDB_PG_BINDIR, else the newest Debian install, else PATH."""
    candidates: list[Path] = []
    if settings.pg_bindir:
        candidates.append(settings.pg_bindir)
    else:
        debian = sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
            reverse=True,
        )
        candidates += debian
        on_path = shutil.which("pg_ctl")
        if on_path:
            candidates.append(Path(on_path).resolve().parent)
    for bindir in candidates:
        if (bindir / "pg_ctl").exists() and (bindir / "initdb").exists():
            return bindir
    raise FlowDBError(
        "PostgreSQL server binaries not found: install postgresql-15 (apt-get install -y postgresql-15) "
        "or set FLOWDB_PG_BINDIR"
    )


def pg_major(bindir: Path) -> int:
    out = subprocess.run(
        [str(bindir / "pg_ctl"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    return int(out.split()[-1].split(".")[0])


def check_postgis(bindir: Path) -> None:
    sharedir = None
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        sharedir = subprocess.run(
            [str(pg_config), "--sharedir"], capture_output=True, text=True, check=False
        ).stdout.strip()
    major = pg_major(bindir)
    share = Path(sharedir) if sharedir else Path(f"/usr/share/postgresql/{major}")
    if not (share / "extension" / "postgis.control").exists():
        raise FlowDBError(
            f"PostGIS is not installed for PostgreSQL {major}: "
            f"apt-get install -y postgresql-{major}-postgis-3"
        )


@dataclass(frozen=True)
class Status:
    running: bool
    pid: int | None = None
    port: int | None = None


class Cluster:
    """Init, start, stop and connect to the FlowDB cluster described by `settings`."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.data_dir = settings.data_dir
        self.pgdata = self.data_dir / "pgdata"
        self.logfile = self.data_dir / "logs" / "postgresql.log"
        self.marker = self.data_dir / MARKER

    # -- who runs the server ------------------------------------------------------------------------------
    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def _owner(self) -> pwd.struct_passwd:
        if not self.as_root:
            return pwd.getpwuid(os.geteuid())
        try:
            return pwd.getpwnam(self.settings.os_user)
        except KeyError:
            raise FlowDBError(
                f"running as root needs an unprivileged user to own the cluster, but user "
                f"{self.settings.os_user!r} does not exist: create it or set FLOWDB_OS_USER"
            ) from None

    def _server_cmd(self, args: list[str]) -> list[str]:
        if self.as_root:
            return ["runuser", "-u", self.settings.os_user, "--", *args]
        return args

    def _give_to_owner(self, *paths: Path) -> None:
        if not self.as_root:
            return
        owner = self._owner()
        for path in paths:
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def _check_reachable(self) -> None:
        """As root, the owner must be able to walk down to the data directory."""
        if not self.as_root:
            return
        owner = self._owner()
        for parent in reversed(self.data_dir.parents):
            st = parent.stat()
            if st.st_uid == owner.pw_uid:
                continue
            if not st.st_mode & 0o001:
                raise FlowDBError(
                    f"user {owner.pw_name!r} cannot reach {self.data_dir} because {parent} is not "
                    f"searchable by others (chmod o+x {parent}, or choose another FLOWDB_DATA_DIR)"
                )

    @property
    def socket_dir(self) -> Path:
        """Where the Unix socket lives: run/ in the data directory, or a short path if that is too long."""
        preferred = self.data_dir / "run"
        if len(str(preferred / ".s.PGSQL.65535.lock")) <= 100:
            return preferred
        digest = hashlib.sha1(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"flowdb-{digest}"

    def _run(
        self, args: list[str], what: str, *, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            self._server_cmd(args), capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise FlowDBError(
                f"{what} failed: {detail[-1] if detail else f'exit {result.returncode}'}"
            )
        return result

    # -- state --------------------------------------------------------------------------------------------
    def is_initialised(self) -> bool:
        if not self.marker.exists():
            return False
        try:
            marker = json.loads(self.marker.read_text())
        except (OSError, ValueError):
            marker = {}
        if marker.get("kind") != MARKER_KIND:
            raise FlowDBError(
                f"{self.marker} was not written by flowdb; choose another FLOWDB_DATA_DIR"
            )
        if not (self.pgdata / "PG_VERSION").exists():
            raise FlowDBError(
                f"{self.data_dir} is marked as a FlowDB directory but has no cluster in {self.pgdata}; "
                "remove the directory to start afresh"
            )
        return True

    def status(self) -> Status:
        pidfile = self.pgdata / "postmaster.pid"
        if not self.is_initialised() or not pidfile.exists():
            return Status(running=False)
        bindir = find_bindir(self.settings)
        result = subprocess.run(
            self._server_cmd([str(bindir / "pg_ctl"), "status", "-D", str(self.pgdata)]),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            return Status(running=False)
        try:
            lines = pidfile.read_text().splitlines()
            return Status(running=True, pid=int(lines[0]), port=int(lines[3]))
        except (OSError, IndexError, ValueError):
            return Status(running=True)

    # -- init ---------------------------------------------------------------------------------------------
    def init(self) -> bool:
        """Create the cluster; return False if it already exists. On failure nothing is left behind."""
        bindir = find_bindir(self.settings)
        major = pg_major(bindir)
        if major < MIN_PG_MAJOR:
            raise FlowDBError(
                f"PostgreSQL {major} is too old: FlowDB needs {MIN_PG_MAJOR} or newer"
            )
        check_postgis(bindir)
        if self.is_initialised():
            return False
        created_dir = not self.data_dir.exists()
        if not created_dir:
            if not self.data_dir.is_dir():
                raise FlowDBError(f"FLOWDB_DATA_DIR {self.data_dir} exists and is not a directory")
            leftovers = {p.name for p in self.data_dir.iterdir()} - {PARTIAL}
            if leftovers:
                raise FlowDBError(
                    f"FLOWDB_DATA_DIR {self.data_dir} is not empty and does not hold a FlowDB "
                    f"cluster (found {', '.join(sorted(leftovers)[:3])}); choose an empty or new directory"
                )
        owner = self._owner()
        partial = self.data_dir / PARTIAL
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._check_reachable()
            self._give_to_owner(self.data_dir)
            if partial.exists():
                shutil.rmtree(partial)
            with tempfile.NamedTemporaryFile("w", dir=self.data_dir, delete=False) as pw:
                pw.write(self.settings.superuser_password + "\n")
            try:
                self._give_to_owner(Path(pw.name))
                self._run(
                    [
                        str(bindir / "initdb"),
                        "-D",
                        str(partial),
                        "-U",
                        self.settings.superuser,
                        f"--pwfile={pw.name}",
                        "-E",
                        "UTF8",
                        "--no-locale",
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        "--no-instructions",
                    ],
                    "initdb",
                )
            finally:
                os.unlink(pw.name)
            (partial / "pg_hba.conf").write_text(self._hba())
            with (partial / "postgresql.conf").open("a") as conf:
                conf.write(
                    "\n# FlowDB settings, regenerated at every start\ninclude_if_exists 'flowdb.conf'\n"
                )
            for sub in ("logs", "run"):
                (self.data_dir / sub).mkdir(exist_ok=True, mode=0o700)
                self._give_to_owner(self.data_dir / sub)
            partial.rename(self.pgdata)
            marker = {
                "kind": MARKER_KIND,
                "format": 1,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "pg_major": major,
                "owner": owner.pw_name,
            }
            tmp = self.marker.with_suffix(".tmp")
            tmp.write_text(json.dumps(marker, indent=2) + "\n")
            tmp.rename(self.marker)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            if created_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)
            else:
                for leftover in ("pgdata", "logs", "run", MARKER, MARKER + ".tmp"):
                    path = self.data_dir / leftover
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    elif path.exists():
                        path.unlink()
            raise
        return True

    # -- start / stop -------------------------------------------------------------------------------------
    def _hba(self) -> str:
        """pg_hba.conf: the socket trusts its owner; TCP needs a password, from anywhere it listens."""
        lines = [
            "# FlowDB: the socket is private to the cluster's owner; TCP needs a password.",
            "local all all trust",
            "host  all all 127.0.0.1/32 scram-sha-256",
        ]
        if not self.settings.loopback_only:  # FLOWDB_LISTEN_ADDRESSES opens other interfaces
            lines += ["host  all all 0.0.0.0/0 scram-sha-256", "host  all all ::/0 scram-sha-256"]
        return "\n".join(lines) + "\n"

    @property
    def ready_file(self) -> Path:
        """Written by `flowdb start --foreground` once the server is up and prepared (a container health check)."""
        return self.data_dir / "ready"

    def _write_config(self, port: int) -> None:
        socket_dir = self.socket_dir
        socket_dir.mkdir(exist_ok=True, mode=0o700)
        self._give_to_owner(socket_dir)
        values = {
            "port": str(port),
            "listen_addresses": f"'{self.settings.listen_addresses}'",
            "unix_socket_directories": f"'{socket_dir}'",
            "unix_socket_permissions": "0700",
            **FIXED_SETTINGS,
            **compute_tuning(self.settings.env).values,
        }
        lines = ["# Generated by `flowdb start`; edits are overwritten. See docs/flowdb.md."]
        lines += [f"{key} = {value}" for key, value in values.items()]
        conf = self.pgdata / "flowdb.conf"
        conf.write_text("\n".join(lines) + "\n")
        self._give_to_owner(conf)
        hba = self.pgdata / "pg_hba.conf"
        hba.write_text(self._hba())
        self._give_to_owner(hba)

    def start(self) -> bool:
        """Start the server (initialising it first if needed) and bring its schema and roles up to date.

        Returns False if it was already running. Either way, pending migrations are applied.
        """
        running = self.marker.exists() and self.is_initialised() and self.status().running
        started = False
        if not running:
            port = self.settings.port
            ensure_port_free(self.settings.host, port)
            self.init()
            self.ready_file.unlink(missing_ok=True)
            self._write_config(port)
            bindir = find_bindir(self.settings)
            self.logfile.touch(exist_ok=True)
            self._give_to_owner(self.logfile)
            try:
                self._run(
                    [
                        str(bindir / "pg_ctl"),
                        "start",
                        "-D",
                        str(self.pgdata),
                        "-l",
                        str(self.logfile),
                        "-w",
                        "-t",
                        "120",
                    ],
                    "starting PostgreSQL",
                    timeout=180,
                )
            except FlowDBError as exc:
                raise FlowDBError(f"{exc}; last log lines:\n{self.log_tail()}") from None
            started = True
        self.prepare_database()
        return started

    def stop(self) -> bool:
        """Stop the server; return False if it was not running."""
        if not self.is_initialised() or not self.status().running:
            return False
        self.ready_file.unlink(missing_ok=True)
        bindir = find_bindir(self.settings)
        self._run(
            [
                str(bindir / "pg_ctl"),
                "stop",
                "-D",
                str(self.pgdata),
                "-m",
                "fast",
                "-w",
                "-t",
                "120",
            ],
            "stopping PostgreSQL",
            timeout=180,
        )
        return True

    def log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    # -- connections and schema ---------------------------------------------------------------------------
    def connect(self, dbname: str = DATABASE, *, autocommit: bool = True) -> psycopg.Connection:
        """A superuser connection over the private Unix socket."""
        status = self.status()
        if not status.running:
            raise FlowDBError("FlowDB is not running: start it with `flowdb start`")
        return psycopg.connect(
            host=str(self.socket_dir),
            port=status.port or self.settings.port,
            user=self.settings.superuser,
            dbname=dbname,
            autocommit=autocommit,
        )

    def prepare_database(self) -> list[migrate.Migration]:
        """Create the flowdb database if needed, migrate it, and reconcile roles, grants and settings."""
        with self.connect("postgres") as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone():
                conn.execute(f"CREATE DATABASE {DATABASE}")  # constant name, not user input
        with self.connect() as conn:
            applied = migrate.migrate(conn)
            roles.reconcile(conn, self.settings)
            roles.record_version_and_cache_config(conn, self.settings)
        return applied


def ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host if host not in ("localhost", "") else "127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise FlowDBError(
                    f"port {port} on 127.0.0.1 is already in use by another program; "
                    "stop it or set FLOWDB_PORT to a free port"
                ) from None
            raise FlowDBError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
