"""Run the whole stack natively in the background: Redis, the FlowMachine server, FlowAPI and FlowAuth (FlowDB
itself is started by `flowdb start`), and with AUTOFLOW_SENSOR=1 AutoFlow's sensor (`autoflow serve` on the
example workflows, outputs in STACK_DIR/autoflow/outputs). `make up` / `make down` / `make demo` call this.

    python scripts/stack.py up | down | status | demo

Everything the stack writes goes in one folder, STACK_DIR (default `.stack/`): `logs/<service>.log`,
`pids/<service>.pid`, Redis's working directory, and a development RS256 key pair (`keys/`) made on first use
when PUBLIC_JWT_SIGNING_KEY is not set. FlowAuth signs with the private half of that pair (FlowAPI checks with the
public half); its Fernet key and SECRET_KEY are made once in `flowauth/` beside its SQLite database. FlowKit's
environment variables are honoured when set (REDIS_PORT, REDIS_PASSWORD, FLOWMACHINE_PORT, FLOWAPI_PORT,
FLOWAPI_IDENTIFIER, PUBLIC_JWT_SIGNING_KEY, PRIVATE_JWT_SIGNING_KEY, FLOWDB_PORT, FLOWAUTH_PORT, ...).
`demo` loads FlowAuth's demo data (a server from FlowAPI's spec, roles, two users) and prints how to sign in.
`down` stops only processes whose PIDs it recorded, after checking they are still the programs it started.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from flowdb.settings import Settings as FlowDBSettings
from flowkit_jwt_generator import generate_keypair

ROOT = Path(__file__).resolve().parents[1]
STACK_DIR = Path(os.environ.get("STACK_DIR") or ".stack").resolve()
BIN = Path(sys.executable).parent
DEV_IDENTIFIER = "flowkit-dev"
FLOWAUTH_DIR = STACK_DIR / "flowauth"


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _keys() -> tuple[str, str]:
    """(private, public) PEM text: the environment's, or the stack's development pair (made once)."""
    if os.environ.get("PUBLIC_JWT_SIGNING_KEY"):
        return os.environ.get("PRIVATE_JWT_SIGNING_KEY", ""), os.environ["PUBLIC_JWT_SIGNING_KEY"]
    keys = STACK_DIR / "keys"
    private, public = keys / "private.pem", keys / "public.pem"
    if not public.exists():
        keys.mkdir(parents=True, exist_ok=True)
        private_pem, public_pem = generate_keypair()
        private.write_bytes(private_pem)
        private.chmod(0o600)
        public.write_bytes(public_pem)
    return private.read_text(), public.read_text()


def _secret(name: str, make: Callable[[], str]) -> str:
    """The text of FLOWAUTH_DIR/`name`, made by `make` (owner-only) the first time."""
    path = FLOWAUTH_DIR / name
    if not path.exists():
        FLOWAUTH_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


def _flowauth_env(private: str) -> dict[str, str]:
    """FlowAuth's settings: the stack's signing key, a Fernet key and SECRET_KEY of its own, SQLite in FLOWAUTH_DIR
    (each unless the environment sets it)."""
    from flowauth.settings import new_fernet_key, new_secret_key

    return {
        "PRIVATE_JWT_SIGNING_KEY": private,
        "FLOWAUTH_FERNET_KEY": os.environ.get("FLOWAUTH_FERNET_KEY")
        or _secret("fernet.key", new_fernet_key),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or _secret("secret.key", new_secret_key),
        "DB_URI": os.environ.get("DB_URI") or f"sqlite:///{FLOWAUTH_DIR / 'flowauth.db'}",
        # the UI's "Fetch spec" may read the stack's FlowAPI (fetching is off by default)
        "FLOWAUTH_SPEC_URL_ORIGINS": os.environ.get("FLOWAUTH_SPEC_URL_ORIGINS")
        or f"http://127.0.0.1:{_port('FLOWAPI_PORT', 9090)}",
    }


def _flowauth_url() -> str:
    return f"http://127.0.0.1:{_port('FLOWAUTH_PORT', 9091)}"


def _services(starting: bool = False) -> dict[str, tuple[list[str], dict[str, str], int | None]]:
    """name -> (command, extra environment, port it listens on), in start order (the environment is complete only
    when `starting`: stopping needs none of FlowAuth's secrets)."""
    db = FlowDBSettings.from_env()
    redis_port = _port("REDIS_PORT", 6379)
    redis_cmd = [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(redis_port),
                 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(STACK_DIR / "redis")]  # fmt: skip
    if os.environ.get("REDIS_PASSWORD"):
        redis_cmd += ["--requirepass", os.environ["REDIS_PASSWORD"]]
    common = {
        "FLOWDB_HOST": os.environ.get("FLOWDB_HOST") or "127.0.0.1",
        "FLOWDB_PORT": str(db.port),
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port),
        "FLOWMACHINE_HOST": "127.0.0.1",
        "FLOWMACHINE_PORT": str(_port("FLOWMACHINE_PORT", 5555)),
    }
    private, public = _keys()
    machine = {**common, "FLOWMACHINE_FLOWDB_PASSWORD": db.role_password("flowmachine")}
    api = {
        **common,
        "FLOWAPI_PORT": str(_port("FLOWAPI_PORT", 9090)),
        "FLOWAPI_FLOWDB_USER": db.flowapi_user,
        "FLOWAPI_FLOWDB_PASSWORD": db.role_password(db.flowapi_user),
        "FLOWAPI_IDENTIFIER": os.environ.get("FLOWAPI_IDENTIFIER") or DEV_IDENTIFIER,
        "PUBLIC_JWT_SIGNING_KEY": public,
    }
    redoc = (
        ROOT / ".tools" / "redoc" / "redoc.standalone.js"
    )  # fetched by `make deps` when npm is there
    if os.environ.get("FLOWAPI_REDOC_SCRIPT") or redoc.is_file():
        api["FLOWAPI_REDOC_SCRIPT"] = os.environ.get("FLOWAPI_REDOC_SCRIPT") or str(redoc)
    services = {
        "redis": (redis_cmd, common, redis_port),
        "flowmachine": ([str(BIN / "flowmachine")], machine, int(common["FLOWMACHINE_PORT"])),
        "flowapi": ([str(BIN / "flowapi")], api, int(api["FLOWAPI_PORT"])),
    }
    auth_port = _port("FLOWAUTH_PORT", 9091)
    if private or not starting:
        auth_env = _flowauth_env(private) if starting else {}
        auth_cmd = [str(BIN / "flowauth"), "serve", "--host", "127.0.0.1", "--port", str(auth_port)]
        services["flowauth"] = (auth_cmd, auth_env, auth_port)
    else:
        print(
            "flowauth: not started (PUBLIC_JWT_SIGNING_KEY is set without PRIVATE_JWT_SIGNING_KEY)"
        )
    if os.environ.get("AUTOFLOW_SENSOR") == "1" or (
        not starting and _pid_file("autoflow").exists()
    ):
        services["autoflow"] = (
            [str(BIN / "autoflow"), "serve"],
            _autoflow_env(private, api) if starting else {},
            None,
        )
    return services


def _autoflow_env(private: str, api: dict[str, str]) -> dict[str, str]:
    """AutoFlow's sensor (`AUTOFLOW_SENSOR=1 make up`): the example workflows, its outputs in
    STACK_DIR/autoflow, a token for every scope signed with the stack's key (valid 30 days)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from compose_secrets import autoflow_token

    home = STACK_DIR / "autoflow"
    return {
        "AUTOFLOW_HOME": str(home),
        "AUTOFLOW_INPUTS_DIR": os.environ.get("AUTOFLOW_INPUTS_DIR")
        or str(ROOT / "autoflow" / "examples" / "inputs"),
        "AUTOFLOW_OUTPUTS_DIR": os.environ.get("AUTOFLOW_OUTPUTS_DIR") or str(home / "outputs"),
        "FLOWAPI_URL": f"http://127.0.0.1:{api['FLOWAPI_PORT']}",
        "FLOWAPI_TOKEN": os.environ.get("FLOWAPI_TOKEN")
        or autoflow_token(private, api["FLOWAPI_IDENTIFIER"], days=30),
    }


def _pid_file(name: str) -> Path:
    return STACK_DIR / "pids" / f"{name}.pid"


def _running(name: str, program: str) -> int | None:
    """The recorded PID of `name` if that process is alive and still runs `program`."""
    try:
        pid = int(_pid_file(name).read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    return pid if Path(program).name in cmdline else None


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def up() -> None:
    for sub in ("logs", "pids", "redis"):
        (STACK_DIR / sub).mkdir(parents=True, exist_ok=True)
    for name, (cmd, env, port) in _services(starting=True).items():
        if _running(name, cmd[0]):
            print(f"{name}: already running (port {port})")
            continue
        if port is not None and _listening(port):
            sys.exit(f"{name}: port {port} is taken by another program; set its *_PORT variable")
        log = (STACK_DIR / "logs" / f"{name}.log").open("ab")
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        _pid_file(name).write_text(str(proc.pid))
        deadline = time.monotonic() + (60 if port is not None else 2)
        while port is None or not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                if port is None and proc.poll() is None:
                    break  # no port to wait for: alive after a moment is started
                tail = (STACK_DIR / "logs" / f"{name}.log").read_text(errors="replace")[-2000:]
                sys.exit(f"{name} did not start (log {STACK_DIR}/logs/{name}.log):\n{tail}")
            time.sleep(0.2)
        where = f"on 127.0.0.1:{port}" if port is not None else f"(log {STACK_DIR}/logs/{name}.log)"
        print(f"{name}: running {where} (pid {proc.pid})")


def down() -> None:
    for name, (cmd, _, _) in reversed(_services().items()):
        pid = _running(name, cmd[0])
        if pid is None:
            _pid_file(name).unlink(missing_ok=True)
            continue
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if _running(name, cmd[0]) is None or not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        _pid_file(name).unlink(missing_ok=True)
        print(f"{name}: stopped")


def demo() -> None:
    """FlowAuth's demo data, from the running FlowAPI's spec, into the database `up` gave FlowAuth."""
    from flowauth.api_spec import SpecError, fetch_spec
    from flowauth.db import Database
    from flowauth.demo import load_demo_data

    private, _ = _keys()
    if not private:
        sys.exit(
            "flowauth: no demo data (PUBLIC_JWT_SIGNING_KEY is set without PRIVATE_JWT_SIGNING_KEY)"
        )
    flowapi = f"http://127.0.0.1:{_port('FLOWAPI_PORT', 9090)}"
    try:
        data = load_demo_data(Database(_flowauth_env(private)["DB_URI"]), fetch_spec(flowapi))
    except SpecError as exc:
        sys.exit(f"flowauth demo data: {exc}")
    print(
        f"FlowAuth: {_flowauth_url()}/ (server {data.server_name!r} from FlowAPI's spec, roles viewer and runner)"
    )
    for login in data.logins:
        kind = "administrator" if login.is_admin else "analyst: mints tokens with viewer and runner"
        print(f"  sign in as {login.username:8} password {login.password}  ({kind})")


def status() -> None:
    for name, (cmd, _, port) in _services().items():
        pid = _running(name, cmd[0])
        where = f"on 127.0.0.1:{port} " if port is not None else ""
        print(f"{name}: " + (f"running {where}(pid {pid})" if pid else "stopped"))


if __name__ == "__main__":
    actions = {"up": up, "down": down, "status": status, "demo": demo}
    if len(sys.argv) != 2 or sys.argv[1] not in actions:
        sys.exit("usage: stack.py up | down | status | demo")
    actions[sys.argv[1]]()
