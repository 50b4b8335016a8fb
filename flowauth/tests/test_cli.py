"""The `flowauth` command and the demo data: each command's output, the demo data's idempotence, and one-line
errors (exit 1, no traceback) for missing settings, an unreachable FlowAPI and a bad spec file."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from flowauth.cli import main
from flowauth.crypto import password_problem, verify_secret
from flowauth.db import Database
from flowauth.demo import DEMO_USERS, role_scopes
from flowauth.models import Role, Scope, Server, User
from flowdb.testing import free_port

SCOPES = [
    "get_available_dates",
    "get_result",
    "run",
    "admin3:spatial_aggregate:spatial_aggregate",
    "admin3:spatial_aggregate:daily_location",
    "admin1:flows:flows",
]
SPEC = {
    "openapi": "3.0.1",
    "components": {
        "securitySchemes": {
            "token": {"type": "http", "x-audience": "demo-flowapi", "x-security-scopes": SCOPES}
        }
    },
}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `flowauth argv` run in this process."""
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str) -> str:
    assert code == 1
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("flowauth: error: ")
    return lines[0]


@pytest.fixture
def db_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'flowauth.db'}"
    for name in ("PRIVATE_JWT_SIGNING_KEY", "FLOWAUTH_FERNET_KEY", "SECRET_KEY", "FLOWAPI_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DB_URI", uri)
    return uri


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(SPEC))
    return path


@pytest.fixture
def spec_server() -> Iterator[str]:
    """A stand-in FlowAPI answering only its spec, on a loopback port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/api/0/spec/openapi.json":
                self.send_error(404)
                return
            body = json.dumps(SPEC).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def counts(uri: str) -> dict[str, int]:
    database = Database(uri)
    try:
        with database.sessions() as session:
            return {
                model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (User, Server, Role, Scope)
            }
    finally:
        database.dispose()


def test_get_fernet_prints_a_key(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["get-fernet"], capsys)
    assert code == 0
    Fernet(out.strip().encode())  # a valid key


def test_init_db_creates_and_force_wipes(db_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["init-db"], capsys)
    assert code == 0 and "up to date" in out
    assert {"user", "server", "role", "scope"} <= Database(db_uri).table_names()
    run(["add-admin", "root", "Quartz-Pelican-Horizon-63"], capsys)
    assert counts(db_uri)["User"] == 1
    code, out, _ = run(["init-db", "--force"], capsys)
    assert code == 0 and "wiped" in out
    assert counts(db_uri)["User"] == 0


def test_add_admin_from_arguments_or_environment(
    db_uri: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(["add-admin", "root", "Quartz-Pelican-Horizon-63"], capsys)
    assert code == 0, err
    assert "root" in out
    monkeypatch.setenv("FLOWAUTH_ADMIN_USERNAME", "boss")
    monkeypatch.setenv("FLOWAUTH_ADMIN_PASSWORD", "Tundra-Kestrel-Amber-58")
    code, _, err = run(["add-admin"], capsys)
    assert code == 0, err
    with Database(db_uri).sessions() as session:
        users = {u.username: u for u in session.scalars(select(User))}
        assert set(users) == {"root", "boss"}
        assert all(u.is_admin for u in users.values())
        assert verify_secret(users["boss"].password_hash, "Tundra-Kestrel-Amber-58")


def test_add_admin_with_a_long_password(db_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    long = "Quartz-Pelican-Horizon-63 " + "x" * 300
    code, _, err = run(["add-admin", "root", long], capsys)
    assert code == 0, err
    with Database(db_uri).sessions() as session:
        (user,) = session.scalars(select(User))
        assert verify_secret(user.password_hash, long)
    line = one_line_error(*run(["add-admin", "root", "x" * 1025], capsys)[::2])
    assert "at most 1024 characters" in line


def test_add_admin_without_a_name_is_one_line(
    db_uri: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLOWAUTH_ADMIN_USERNAME", raising=False)
    monkeypatch.delenv("FLOWAUTH_ADMIN_PASSWORD", raising=False)
    line = one_line_error(*run(["add-admin"], capsys)[::2])
    assert "FLOWAUTH_ADMIN_USERNAME" in line


def test_demo_data_from_spec_file_is_idempotent(
    db_uri: str, spec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["demo-data", "--spec", str(spec_file)], capsys)
    assert code == 0, err
    for login in DEMO_USERS:
        assert login.username in out and login.password in out
    first = counts(db_uri)
    assert first == {"User": 2, "Server": 1, "Role": 2, "Scope": len(SCOPES)}
    code, _, err = run(["demo-data", "--spec", str(spec_file)], capsys)
    assert code == 0, err
    assert counts(db_uri) == first

    with Database(db_uri).sessions() as session:
        server = session.scalars(select(Server)).one()
        assert server.name == "demo-flowapi"
        assert server.longest_token_life_minutes == 31 * 24 * 60
        roles = {r.name: sorted(s.name for s in r.scopes) for r in server.roles}
        assert roles == {
            "viewer": sorted(
                ["get_result", "get_available_dates"] + [s for s in SCOPES if ":" in s]
            ),
            "runner": sorted(["run", "get_available_dates"] + [s for s in SCOPES if ":" in s]),
        }
        users = {u.username: u for u in session.scalars(select(User))}
        assert users["admin"].is_admin and not users["analyst"].is_admin
        assert sorted(r.name for r in users["analyst"].roles) == ["runner", "viewer"]
        for login in DEMO_USERS:
            assert verify_secret(users[login.username].password_hash, login.password)


def test_demo_data_follows_a_new_spec(
    db_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Re-running with a spec that lost a scope and gained one updates the server and roles in place."""
    run(["demo-data", "--spec", _write(tmp_path / "a.json", SCOPES)], capsys)
    newer = [s for s in SCOPES if s != "admin1:flows:flows"] + ["admin2:flows:flows"]
    code, _, err = run(["demo-data", "--spec", _write(tmp_path / "b.json", newer)], capsys)
    assert code == 0, err
    with Database(db_uri).sessions() as session:
        server = session.scalars(select(Server)).one()
        assert sorted(s.name for s in server.scopes) == sorted(newer)
        viewer = next(r for r in server.roles if r.name == "viewer")
        assert sorted(s.name for s in viewer.scopes) == role_scopes(newer)["viewer"]
    assert counts(db_uri)["Role"] == 2


def _write(path: Path, scopes: list[str]) -> str:
    spec = json.loads(json.dumps(SPEC))
    spec["components"]["securitySchemes"]["token"]["x-security-scopes"] = scopes
    path.write_text(json.dumps(spec))
    return str(path)


def test_demo_data_from_a_flowapi_url(
    db_uri: str, spec_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["demo-data", "--flowapi-url", spec_server], capsys)
    assert code == 0, err
    assert "demo-flowapi" in out
    assert counts(db_uri)["Server"] == 1


def test_demo_passwords_are_strong() -> None:
    for login in DEMO_USERS:
        assert password_problem(login.password, [login.username]) is None


def test_unreachable_flowapi_is_one_line(db_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    line = one_line_error(*run(["demo-data", "--flowapi-url", url], capsys)[::2])
    assert "Could not reach" in line and url in line


@pytest.mark.parametrize(
    "content, expected",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"components": {}}', "has no components.securitySchemes.token"),
        (
            '{"components": {"securitySchemes": {"token": {"x-audience": "a", "x-security-scopes": "run"}}}}',
            "x-security-scopes",
        ),
    ],
)
def test_bad_spec_file_is_one_line(
    db_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    path = tmp_path / "spec.json"
    path.write_text(content)
    line = one_line_error(*run(["demo-data", "--spec", str(path)], capsys)[::2])
    assert expected in line


def test_missing_spec_file_is_one_line(db_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(*run(["demo-data", "--spec", "/nonexistent/openapi.json"], capsys)[::2])
    assert "Cannot read the spec file" in line


def test_serve_without_settings_is_one_line(
    db_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = one_line_error(*run(["serve", "--port", str(free_port())], capsys)[::2])
    assert "PRIVATE_JWT_SIGNING_KEY" in line


def test_bad_db_uri_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_URI", "not a url")
    one_line_error(*run(["init-db"], capsys)[::2])


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    """The installed `flowauth` script, as a user runs it: missing settings → one line, exit 1."""
    env = {"PATH": "/usr/bin:/bin", "DB_URI": f"sqlite:///{tmp_path / 'x.db'}"}
    script = Path(sys.executable).parent / "flowauth"
    done = subprocess.run(
        [str(script), "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("flowauth: error: PRIVATE_JWT_SIGNING_KEY is not set")


def test_settings_of_the_limits_and_the_spec_origins(signing_keys) -> None:
    from cryptography.hazmat.primitives import serialization

    from flowauth.settings import Settings, SettingsError

    pem = signing_keys[0].private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    env = {
        "PRIVATE_JWT_SIGNING_KEY": pem.decode(),
        "FLOWAUTH_FERNET_KEY": Fernet.generate_key().decode(),
        "SECRET_KEY": "s",
    }
    default = Settings.from_env(env, secrets_dir=None)
    assert default.spec_url_origins == frozenset()  # fetching by URL is off
    assert (default.token_mint_max, default.token_mint_window_seconds) == (60, 3600)
    chosen = Settings.from_env(
        {
            **env,
            "FLOWAUTH_SPEC_URL_ORIGINS": "http://LocalHost:9090/, https://127.0.0.1",
            "FLOWAUTH_TOKEN_MINT_MAX": "5",
        },
        secrets_dir=None,
    )
    assert chosen.spec_url_origins == {"http://localhost:9090", "https://127.0.0.1:443"}
    assert chosen.token_mint_max == 5
    for bad in (
        {"FLOWAUTH_SPEC_URL_ORIGINS": "flowapi:9090"},
        {"FLOWAUTH_ADMIN_PASSWORD": "x" * 1025},
        {"FLOWAUTH_TOKEN_MINT_MAX": "many"},
    ):
        with pytest.raises(SettingsError):
            Settings.from_env({**env, **bad}, secrets_dir=None)
