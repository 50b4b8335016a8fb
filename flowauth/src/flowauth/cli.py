"""The `flowauth` command (FlowKit's `flask …` commands, reference flowauth_autoflow.md A5, plus `serve`).

    flowauth serve [--host 127.0.0.1] [--port 9091]    # waitress; every setting from the environment
    flowauth init-db [--force]                          # migrate DB_URI (--force: wipe it first)
    flowauth add-admin USERNAME PASSWORD                # or FLOWAUTH_ADMIN_USERNAME / FLOWAUTH_ADMIN_PASSWORD
    flowauth get-fernet                                 # print a new FLOWAUTH_FERNET_KEY
    flowauth demo-data [--flowapi-url URL | --spec FILE]

`serve` needs the full settings (docs/flowauth.md); the database commands need only DB_URI (and
FLOWAUTH_DB_PASSWORD when DB_URI holds `{}`). Any failure prints one line on stderr and exits with 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowauth import __version__
from flowauth.settings import SECRETS_DIR, Settings, SettingsError, _lookup, new_fernet_key

if TYPE_CHECKING:
    from flowauth.db import Database

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9091
DEFAULT_FLOWAPI_URL = "http://127.0.0.1:9090"


class CommandError(Exception):
    """A command cannot do what was asked; the message is the one line printed."""


def _db_uri() -> str:
    """DB_URI as `Settings.from_env` reads it, without asking for the keys `serve` needs."""
    uri = _lookup(os.environ, "DB_URI", SECRETS_DIR) or "sqlite:///flowauth.db"
    if "{}" in uri:
        uri = uri.replace("{}", _lookup(os.environ, "FLOWAUTH_DB_PASSWORD", SECRETS_DIR) or "")
    return uri


def _database() -> Database:
    from sqlalchemy.exc import ArgumentError

    from flowauth.db import Database

    uri = _db_uri()
    try:
        return Database(uri)
    except (ArgumentError, ValueError) as exc:
        raise CommandError(f"DB_URI is not a database URL: {exc}") from None
    except ModuleNotFoundError as exc:
        raise CommandError(f"DB_URI needs a driver that is not installed: {exc.name}") from None


def _shown_uri(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=True)


def cmd_serve(args: argparse.Namespace) -> None:
    from waitress.server import create_server

    from flowauth.app import create_app

    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(settings)
    try:
        server = create_server(app, host=args.host, port=args.port, threads=8)
    except OSError as exc:
        raise CommandError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
        ) from None
    print(f"FlowAuth {__version__} serving on http://{args.host}:{args.port}/", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def cmd_init_db(args: argparse.Namespace) -> None:
    database = _database()
    if args.force:
        database.reset()
        print(f"FlowAuth database {_shown_uri(database)}: wiped and created")
    else:
        database.upgrade()
        print(f"FlowAuth database {_shown_uri(database)}: up to date")


def cmd_add_admin(args: argparse.Namespace) -> None:
    from flowauth.bootstrap import ensure_admin

    username = args.username or _lookup(os.environ, "FLOWAUTH_ADMIN_USERNAME", SECRETS_DIR)
    password = args.password or _lookup(os.environ, "FLOWAUTH_ADMIN_PASSWORD", SECRETS_DIR)
    if not username or not password:
        raise CommandError(
            "give USERNAME and PASSWORD, or set FLOWAUTH_ADMIN_USERNAME and FLOWAUTH_ADMIN_PASSWORD"
        )
    database = _database()
    database.upgrade()
    try:
        ensure_admin(database, username, password)
    except ValueError as exc:  # e.g. a password longer than FlowAuth accepts
        raise CommandError(str(exc)) from None
    print(f"administrator {username!r} is in {_shown_uri(database)}")


def cmd_get_fernet(_args: argparse.Namespace) -> None:
    print(new_fernet_key())


def cmd_demo_data(args: argparse.Namespace) -> None:
    from flowauth.api_spec import fetch_spec
    from flowauth.demo import load_demo_data, read_spec_file

    if args.spec:
        spec, source = read_spec_file(args.spec), args.spec
    else:
        url = (
            args.flowapi_url
            or _lookup(os.environ, "FLOWAPI_URL", SECRETS_DIR)
            or DEFAULT_FLOWAPI_URL
        )
        spec, source = fetch_spec(url), url
    database = _database()
    data = load_demo_data(database, spec)
    print(
        f"Demo data in {_shown_uri(database)}: server {data.server_name!r} "
        f"({len(data.scopes)} scopes, from {source})"
    )
    for role, scopes in data.roles.items():
        print(f"  role {role}: {len(scopes)} scopes")
    for login in data.logins:
        kind = "administrator" if login.is_admin else "user with roles viewer and runner"
        print(f"  sign in as {login.username} / {login.password}  ({kind})")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="flowauth", description="FlowAuth: users, roles, servers and FlowAPI tokens."
    )
    top.add_argument("--version", action="version", version=f"flowauth {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the web app (waitress)")
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    serve.set_defaults(func=cmd_serve)

    init_db = sub.add_parser("init-db", help="create or migrate the database at DB_URI")
    init_db.add_argument("--force", action="store_true", help="wipe every FlowAuth table first")
    init_db.set_defaults(func=cmd_init_db)

    add_admin = sub.add_parser("add-admin", help="add an administrator (or make a user one)")
    add_admin.add_argument("username", nargs="?", metavar="USERNAME")
    add_admin.add_argument("password", nargs="?", metavar="PASSWORD")
    add_admin.set_defaults(func=cmd_add_admin)

    fernet = sub.add_parser("get-fernet", help="print a new Fernet key for FLOWAUTH_FERNET_KEY")
    fernet.set_defaults(func=cmd_get_fernet)

    demo = sub.add_parser(
        "demo-data", help="add (or update) the demo server, roles and users from a FlowAPI spec"
    )
    source = demo.add_mutually_exclusive_group()
    source.add_argument(
        "--flowapi-url",
        help=f"a running FlowAPI (default $FLOWAPI_URL or {DEFAULT_FLOWAPI_URL})",
    )
    source.add_argument("--spec", metavar="FILE", help="a saved FlowAPI openapi.json")
    demo.set_defaults(func=cmd_demo_data)
    return top


def main(argv: Sequence[str] | None = None) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from flowauth.api_spec import SpecError

    args = parser().parse_args(argv)
    try:
        args.func(args)
    except (CommandError, SettingsError, SpecError) as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        _fail(f"database error: {detail}")
    except Exception as exc:  # never a traceback on the terminal
        if os.environ.get("FLOWAUTH_LOG_LEVEL", "").lower() == "debug":
            raise
        message = str(exc).splitlines()[0] if str(exc) else ""
        _fail(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def _fail(message: str) -> None:
    print(f"flowauth: error: {message}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
