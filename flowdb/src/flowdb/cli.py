"""`flowdb`: run a private FlowDB cluster and fill it with synthetic data.

Every failure the user can act on ends as one line on stderr and exit status 1; re-running any command is safe.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import psycopg

from flowdb.cluster import Cluster
from flowdb.errors import FlowDBError
from flowdb.settings import DATABASE, Settings


def _say(message: str) -> None:
    print(message, flush=True)


def cmd_init(settings: Settings, args: argparse.Namespace) -> int:
    created = Cluster(settings).init()
    _say(f"{'initialised' if created else 'already initialised'}: {settings.data_dir}")
    return 0


def cmd_start(settings: Settings, args: argparse.Namespace) -> int:
    cluster = Cluster(settings)
    started = cluster.start()
    status = cluster.status()
    _say(
        f"FlowDB {'started' if started else 'already running'} on 127.0.0.1:{status.port} "
        f"(pid {status.pid}, data {settings.data_dir})"
    )
    if args.foreground:
        return supervise(cluster)
    return 0


def supervise(cluster: Cluster, stop: threading.Event | None = None, poll: float = 1.0) -> int:
    """Stay in the foreground (a container's main process) until SIGTERM or SIGINT, then stop the server.

    Copies the server log to stdout, marks the cluster ready for health checks, and exits 1 if PostgreSQL dies.
    """
    stop = stop or threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        _say(cluster.log_tail(20))
        offset = cluster.logfile.stat().st_size if cluster.logfile.exists() else 0
        cluster.ready_file.write_text(f"{os.getpid()}\n")
        checks = 0
        while not stop.wait(poll):
            offset = _copy_log(cluster.logfile, offset)
            checks += 1
            if checks % 5 == 0 and not cluster.status().running:
                cluster.ready_file.unlink(missing_ok=True)
                print("flowdb: error: PostgreSQL exited; see the log above", file=sys.stderr)
                return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    cluster.stop()
    _copy_log(cluster.logfile, offset)
    _say("FlowDB stopped")
    return 0


def _copy_log(logfile: Path, offset: int) -> int:
    """Print what the server log gained since `offset`; return the new offset."""
    try:
        with logfile.open("rb") as log:
            log.seek(offset)
            chunk = log.read()
    except OSError:
        return offset
    if chunk:
        sys.stdout.write(chunk.decode(errors="replace"))
        sys.stdout.flush()
    return offset + len(chunk)


def cmd_stop(settings: Settings, args: argparse.Namespace) -> int:
    stopped = Cluster(settings).stop()
    _say("FlowDB stopped" if stopped else "FlowDB was not running")
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    cluster = Cluster(settings)
    if not cluster.is_initialised():
        _say(f"not initialised: {settings.data_dir}")
        return 3
    status = cluster.status()
    if not status.running:
        _say(f"stopped: {settings.data_dir}")
        return 3
    _say(f"running on 127.0.0.1:{status.port} (pid {status.pid}, data {settings.data_dir})")
    return 0


def _running_settings(settings: Settings) -> Settings:
    """Settings whose port is the one a local cluster is actually listening on, if there is one."""
    from dataclasses import replace

    cluster = Cluster(settings)
    if settings.data_dir.exists() and cluster.is_initialised():
        status = cluster.status()
        if status.running and status.port:
            return replace(settings, port=status.port)
    return settings


def cmd_url(settings: Settings, args: argparse.Namespace) -> int:
    _say(settings.url(args.role))
    return 0


def cmd_psql(settings: Settings, args: argparse.Namespace) -> int:
    psql = shutil.which("psql")
    if psql is None:
        raise FlowDBError("psql not found: apt-get install -y postgresql-client")
    role = args.role or settings.superuser
    env = dict(os.environ, PGPASSWORD=settings.role_password(role))
    argv = [
        psql,
        "-h",
        settings.host,
        "-p",
        str(settings.port),
        "-U",
        role,
        "-d",
        DATABASE,
        *args.psql_args,
    ]
    os.execvpe(psql, argv, env)
    return 0  # pragma: no cover - exec does not return


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    applied = Cluster(settings).prepare_database()
    _say(f"applied {len(applied)} migration(s)" if applied else "schema is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowdb",
        description="Run a private FlowDB (PostgreSQL + PostGIS) cluster and fill it with synthetic CDR data.",
        epilog="Settings come from FlowKit's environment variables (FLOWDB_DATA_DIR, FLOWDB_PORT, ...); "
        "see docs/flowdb.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("init", help="create the cluster in FLOWDB_DATA_DIR").set_defaults(func=cmd_init)
    start = sub.add_parser("start", help="start the cluster (initialising and migrating it)")
    start.add_argument(
        "--foreground",
        action="store_true",
        help="stay running, print the server log, stop the server on SIGTERM/SIGINT (containers)",
    )
    start.set_defaults(func=cmd_start)
    sub.add_parser("stop", help="stop the cluster").set_defaults(func=cmd_stop)
    sub.add_parser("status", help="is the cluster running? (exit 3 if not)").set_defaults(
        func=cmd_status
    )
    sub.add_parser("migrate", help="apply pending schema migrations").set_defaults(func=cmd_migrate)
    url = sub.add_parser("url", help="print a connection URL")
    url.add_argument("--role", help="flowdb (default), flowmachine or the FlowAPI role")
    url.set_defaults(func=cmd_url)
    psql = sub.add_parser(
        "psql", help="open psql on the flowdb database; extra arguments go to psql"
    )
    psql.add_argument("--role", help="connect as this role instead of the superuser")
    psql.set_defaults(func=cmd_psql)

    from flowdb.synthetic.cli import add_commands

    add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "psql":
        args.psql_args = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        # Commands that connect use the port a local cluster actually listens on, if one is running.
        settings = _running_settings(Settings.from_env())
        return args.func(settings, args)
    except FlowDBError as exc:
        print(f"flowdb: error: {exc}", file=sys.stderr)
        return 1
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"flowdb: error: cannot reach FlowDB: {first}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("flowdb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
